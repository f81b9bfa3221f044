"""Hero images through gRPC: AnalyzeHeroImage, image bytes on upsert (analysed, only the report
stored), refusals that leave the server serving, and near-duplicate collapse in Search."""

from __future__ import annotations

import io
import random

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from PIL import Image, ImageDraw, ImageFilter
from xiaodian import Client, errors
from xiaodian.v1 import search_service_pb2 as pb

OLD = Timestamp(seconds=1_600_000_000)


def picture(seed: int, size: tuple[int, int] = (800, 800)) -> Image.Image:
    """A deterministic product-shot-like picture: white background, coloured shapes."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(image)
    w, h = size
    for _ in range(12):
        x0, y0 = rng.randrange(w // 8, w // 2), rng.randrange(h // 8, h // 2)
        x1, y1 = x0 + rng.randrange(w // 8, w // 2), y0 + rng.randrange(h // 8, h // 2)
        colour = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
    return image


def encoded(image: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def test_analyze_hero_image_reports_the_signals(client: Client) -> None:
    report = client.analyze_hero_image(image_bytes=encoded(picture(1))).report
    assert (report.width, report.height, report.format) == (800, 800, pb.IMAGE_FORMAT_JPEG)
    assert report.squareness == 1.0
    assert 0 < report.quality <= 1 and report.sharpness > 0 and 0 < report.exposure < 1
    assert report.border_whiteness > 0.5  # white background
    blurred = client.analyze_hero_image(image_bytes=encoded(picture(1).filter(ImageFilter.GaussianBlur(4)))).report
    assert blurred.sharpness < report.sharpness and blurred.quality < report.quality


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", None),  # required
        (b"GIF89a not really", "format"),
        (encoded(picture(2))[:5000], "corrupt"),
    ],
)
def test_bad_images_are_refused_and_the_server_keeps_serving(client: Client, data: bytes, reason: str | None) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        client.analyze_hero_image(image_bytes=data)
    [violation] = caught.value.violations
    assert violation.field == "image_bytes"
    if reason:
        assert violation.description.startswith(reason + ":")
    assert client.health("xiaodian.v1.SearchService") == "SERVING"
    assert client.analyze_hero_image(image_bytes=encoded(picture(3), "PNG")).report.format == pb.IMAGE_FORMAT_PNG


def test_upserted_bytes_are_analysed_and_only_the_report_is_kept(client: Client) -> None:
    client.upsert_shops(shops=[pb.Shop(shop_id="s1", name="店一", opened_at=OLD, experience_score=4.5)])
    image = encoded(picture(4))
    result = client.upsert_products(
        products=[
            pb.Product(
                product_id="p1",
                shop_id="s1",
                title="羊绒围巾 带头图",
                category_id="c",
                version=1,
                hero_image=pb.HeroImage(image_bytes=image),
            )
        ]
    ).results[0]
    assert result.hero_image == client.analyze_hero_image(image_bytes=image).report
    explained = client.search(query="羊绒围巾", explain=True).hits[0].explanation
    quality = next(s for s in explained.signals if s.signal == "hero_quality")
    assert quality.value == result.hero_image.quality


def test_five_copies_of_one_photo_from_five_shops_show_once(client: Client) -> None:
    """White-label listings (白牌): one photo, resized, re-encoded or brightened by five shops."""
    original = picture(5)
    copies = [
        encoded(original),
        encoded(original.resize((600, 600))),
        encoded(original, quality=70),
        encoded(original.point(lambda v: min(255, int(v * 1.08)))),
        encoded(original, "PNG"),
    ]
    shops = [pb.Shop(shop_id=f"s{i}", name=f"白牌店{i}", opened_at=OLD, experience_score=4.0) for i in range(6)]
    client.upsert_shops(shops=shops)
    products = [
        pb.Product(
            product_id=f"copy{i}",
            shop_id=f"s{i}",
            title="加厚羊绒围巾 白牌同款",
            category_id="c",
            sales_30d=i,
            version=1,
            hero_image=pb.HeroImage(image_bytes=data),
        )
        for i, data in enumerate(copies)
    ]
    products.append(
        pb.Product(
            product_id="own",
            shop_id="s5",
            title="加厚羊绒围巾 原创款",
            category_id="c",
            version=1,
            hero_image=pb.HeroImage(image_bytes=encoded(picture(6))),
        )
    )
    client.upsert_products(products=products)
    response = client.search(query="羊绒围巾")
    assert response.total_matched == 6
    assert len(response.hits) == 2 and response.collapsed_duplicates == 4
    [copy] = [h for h in response.hits if h.product_id.startswith("copy")]
    assert copy.collapsed_duplicates == 4
    assert len(client.search(query="羊绒围巾", keep_duplicates=True).hits) == 6

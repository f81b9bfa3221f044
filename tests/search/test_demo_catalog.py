"""The demo catalog: deterministic by seed, valid by the proto's rules, and realistically skewed."""

from __future__ import annotations

import hashlib
import os
import re
import statistics
import subprocess
import sys
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from xiaodian.demo import CATEGORIES, DEFAULT_NOW_S, Catalog, generate_catalog, iter_products, stream_catalog
from xiaodian.demo.catalog import IMITATION_MODIFIERS, IMITATIONS, SYNONYM_GROUPS, stream_catalog_with_truth
from xiaodian.v1 import search_service_pb2 as pb

pytestmark = pytest.mark.backend_independent  # run in the SQLite pass only

ROOT = Path(__file__).resolve().parents[2]
ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
DAY_S = 86_400
YEAR_S = 365 * DAY_S
SIZE = 5000


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return generate_catalog(seed=20250108, product_count=SIZE)


def serialized(catalog: Catalog) -> list[bytes]:
    messages: list[pb.Shop | pb.Product] = [*catalog.shops, *catalog.products]
    return [message.SerializeToString(deterministic=True) for message in messages]


def digest(catalog: Catalog) -> str:
    return hashlib.sha256(b"".join(serialized(catalog))).hexdigest()


def popcount(value: int) -> int:
    return bin(value).count("1")


# Determinism


def test_the_same_seed_gives_the_same_catalog(catalog: Catalog) -> None:
    again = generate_catalog(seed=20250108, product_count=SIZE)
    assert serialized(again) == serialized(catalog)


def test_different_seeds_give_different_catalogs() -> None:
    first = generate_catalog(seed=1, product_count=300)
    second = generate_catalog(seed=2, product_count=300)
    assert [p.title for p in first.products] != [p.title for p in second.products]
    assert [s.name for s in first.shops] != [s.name for s in second.shops]


def test_the_catalog_does_not_depend_on_the_hash_seed() -> None:
    script = (
        "from xiaodian.demo import generate_catalog; import hashlib; c = generate_catalog(7, 300); "
        "print(hashlib.sha256(b''.join(m.SerializeToString(deterministic=True) "
        "for m in [*c.shops, *c.products])).hexdigest())"
    )
    expected = digest(generate_catalog(7, 300))
    for hash_seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT / "python")}
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
        assert result.stdout.strip() == expected


def test_streaming_gives_the_same_products_and_a_prefix_is_a_smaller_catalog() -> None:
    whole = generate_catalog(seed=3, product_count=600, shop_count=15)
    shops, products = stream_catalog(seed=3, product_count=600, shop_count=15)
    assert shops == whole.shops
    assert list(products) == whole.products
    assert list(iter_products(seed=3, product_count=250, shop_count=15)) == whole.products[:250]


def test_shop_count_defaults_to_one_per_fifty_products_and_bad_counts_are_refused() -> None:
    assert len(generate_catalog(1, 1000).shops) == 20
    assert len(generate_catalog(1, 1000, shop_count=3).shops) == 3
    empty = generate_catalog(1, 0)
    assert (len(empty.shops), empty.products) == (1, [])
    with pytest.raises(ValueError, match="product_count"):
        generate_catalog(1, -1)
    with pytest.raises(ValueError, match="shop_count"):
        generate_catalog(1, 10, shop_count=0)


# Validity (the rules in proto/xiaodian/v1/search_service.proto)


def test_vocabulary_fits_the_proto_limits() -> None:
    assert len({category.category_id for category in CATEGORIES}) == len(CATEGORIES)
    for category in CATEGORIES:
        assert ID.fullmatch(category.category_id)
        assert all(0 < len(brand) <= 30 for brand in category.brands)
        low, median, high = category.price_yuan
        assert 0 < low <= median <= high
        assert category.nouns and category.materials and category.attributes and category.shop_words


def test_every_shop_is_valid(catalog: Catalog) -> None:
    ids = [shop.shop_id for shop in catalog.shops]
    names = [shop.name for shop in catalog.shops]
    assert ids == [f"s{index:05d}" for index in range(1, len(ids) + 1)]
    assert len(set(names)) == len(names)
    for shop in catalog.shops:
        assert ID.fullmatch(shop.shop_id)
        assert 1 <= len(shop.name) <= 50 and shop.name == shop.name.strip()
        assert DEFAULT_NOW_S - 5 * YEAR_S <= shop.opened_at.seconds < DEFAULT_NOW_S
        assert 0.0 <= shop.experience_score <= 5.0
        assert shop.experience_review_count >= 0


def test_every_product_is_valid(catalog: Catalog) -> None:
    shops = {shop.shop_id: shop for shop in catalog.shops}
    category_ids = {category.category_id for category in CATEGORIES}
    ids = [product.product_id for product in catalog.products]
    assert ids == [f"p{index:06d}" for index in range(1, SIZE + 1)]
    for product in catalog.products:
        assert ID.fullmatch(product.product_id)
        assert product.shop_id in shops
        assert 5 <= len(product.title.strip()) <= 60 and product.title == product.title.strip()
        assert len(product.brand) <= 30
        assert product.category_id in category_ids
        assert product.price_fen >= 0 and product.sales_30d >= 0 and product.stock >= 0
        assert product.rating_count >= 0
        assert product.rating_count <= product.rating_sum <= 5 * product.rating_count
        assert 1 <= product.image_count <= 9
        assert product.version == 1
        opened_at = shops[product.shop_id].opened_at.seconds
        assert max(opened_at, DEFAULT_NOW_S - 2 * YEAR_S) <= product.listed_at.seconds <= DEFAULT_NOW_S
        assert product.hero_image.WhichOneof("source") == "report"
        report = product.hero_image.report
        assert report.width > 0 and report.height > 0
        assert report.format != pb.IMAGE_FORMAT_UNSPECIFIED
        assert report.squareness == min(report.width, report.height) / max(report.width, report.height)
        assert report.sharpness >= 0.0
        for unit_value in (report.exposure, report.border_whiteness, report.quality):
            assert 0.0 <= unit_value <= 1.0


def test_prices_stay_in_their_category_range(catalog: Catalog) -> None:
    ranges = {category.category_id: category.price_yuan for category in CATEGORIES}
    for product in catalog.products:
        low, _, high = ranges[product.category_id]
        assert round(low * 100) <= product.price_fen <= round(high * 100)


def test_brand_shops_sell_their_own_brand(catalog: Catalog) -> None:
    brand_shops = {shop.shop_id for shop in catalog.shops if shop.is_brand}
    brands_by_shop: dict[str, set[str]] = defaultdict(set)
    for product in catalog.products:
        if product.shop_id in brand_shops:
            brands_by_shop[product.shop_id].add(product.brand)
    assert brands_by_shop
    for shop_id, brands in brands_by_shop.items():
        assert len(brands) == 1 and "" not in brands, shop_id
    assert any(name.endswith("官方旗舰店") for name in (shop.name for shop in catalog.shops if shop.is_brand))


# Realism


def test_sales_ratings_and_shop_sizes_are_long_tailed(catalog: Catalog) -> None:
    sales = sorted((product.sales_30d for product in catalog.products), reverse=True)
    assert sum(sales[: SIZE // 100]) > 0.2 * sum(sales)
    assert sales.count(0) > 0.3 * SIZE
    rating_counts = [product.rating_count for product in catalog.products]
    assert rating_counts.count(0) > 0.2 * SIZE
    assert max(rating_counts) > 100 * statistics.median(rating_counts)
    shop_sizes = sorted(Counter(product.shop_id for product in catalog.products).values())
    assert shop_sizes[-1] > 5 * statistics.median(shop_sizes)
    reviews = sorted(shop.experience_review_count for shop in catalog.shops)
    assert sum(count <= 20 for count in reviews) > 0.3 * len(reviews)
    assert reviews[-1] > 10 * statistics.median(reviews)
    out_of_stock = sum(1 for product in catalog.products if product.stock == 0)
    assert 0.02 * SIZE < out_of_stock < 0.1 * SIZE


def test_shops_mix_brands_new_shops_and_experience_scores(catalog: Catalog) -> None:
    shops = catalog.shops
    brand_share = sum(shop.is_brand for shop in shops) / len(shops)
    new_share = sum(DEFAULT_NOW_S - shop.opened_at.seconds < 90 * DAY_S for shop in shops) / len(shops)
    assert 0.05 < brand_share < 0.3
    assert 0.03 < new_share < 0.25
    scores = [shop.experience_score for shop in shops]
    assert 4.0 <= statistics.median(scores) <= 4.8
    assert min(scores) < 3.8  # a lower tail of struggling shops


def test_titles_mix_chinese_latin_digits_and_full_width(catalog: Catalog) -> None:
    titles = [product.title for product in catalog.products]
    assert all(re.search(r"[\u4e00-\u9fff]", title) for title in titles)
    assert sum(bool(re.search(r"[A-Za-z]", title)) for title in titles) > 0.1 * SIZE
    assert sum(bool(re.search(r"[0-9]", title)) for title in titles) > 0.1 * SIZE
    assert any(re.search(r"[\uff21-\uff3a\uff41-\uff5a\uff10-\uff19]", title) for title in titles)
    assert any(title.startswith("【") for title in titles)
    assert any(len(title) >= 55 for title in titles)
    assert len({product.category_id for product in catalog.products}) >= len(CATEGORIES) - 2
    assert any(product.brand.isascii() for product in catalog.products if product.brand)
    assert any(not product.brand for product in catalog.products)


def test_hero_images_are_mostly_square_800px(catalog: Catalog) -> None:
    sizes = Counter((p.hero_image.report.width, p.hero_image.report.height) for p in catalog.products)
    assert sizes[(800, 800)] > 0.5 * SIZE
    assert sizes[(750, 1000)] > 0 and sizes[(1200, 400)] > 0


def test_white_label_listings_share_hero_images_across_shops(catalog: Catalog) -> None:
    products = catalog.products
    by_band: dict[tuple[int, int], list[int]] = defaultdict(list)
    for index, product in enumerate(products):
        for band in range(4):  # two hashes 1-3 bits apart agree exactly on at least one 16-bit band
            by_band[(band, product.hero_image.report.dhash >> (16 * band) & 0xFFFF)].append(index)
    distances: dict[tuple[int, int], int] = {}
    for members in by_band.values():
        for position, first in enumerate(members):
            for second in members[position + 1 :]:
                if products[first].shop_id != products[second].shop_id:
                    distance = popcount(
                        products[first].hero_image.report.dhash ^ products[second].hero_image.report.dhash
                    )
                    if distance <= 3:
                        distances[(first, second)] = distance
    assert 0 in distances.values()
    assert set(distances.values()) & {1, 2, 3}
    copied = {index for pair in distances for index in pair}
    assert 0.02 * SIZE < len(copied) < 0.1 * SIZE


# Truth (what the relevance benchmark judges by)


def test_the_truth_comes_with_the_same_products_and_says_what_each_title_says() -> None:
    shops, pairs = stream_catalog_with_truth(seed=20250108, product_count=SIZE)
    products, truths = zip(*pairs, strict=True)
    assert list(products) == generate_catalog(seed=20250108, product_count=SIZE).products
    shop_ids = {shop.shop_id for shop in shops}
    ids = {product.product_id for product in products}
    groups = {word: group for group in SYNONYM_GROUPS for word in group}
    for product, truth in zip(products, truths, strict=True):
        assert (truth.product_id, truth.shop_id, truth.category_id) == (
            product.product_id,
            product.shop_id,
            product.category_id,
        )
        assert truth.shop_id in shop_ids and (truth.brand or "") == product.brand
        category = next(c for c in CATEGORIES if c.category_id == truth.category_id)
        assert truth.product_type in category.nouns
        assert truth.type_word == truth.product_type or truth.type_word in groups[truth.product_type]
        # The head phrase (material + type word) is never clipped (full-width titles: after NFKC).
        head = (truth.material_word or "") + truth.type_word
        assert head in unicodedata.normalize("NFKC", product.title)
        assert any(head in unicodedata.normalize("NFKC", word) for word in truth.title_words)
        assert product.title in (" ".join(truth.title_words)[:60], "".join(truth.title_words)[:60])
        if truth.imitation:
            assert truth.material in IMITATIONS and truth.material_word in IMITATIONS[truth.material]
            assert truth.material_word.startswith(IMITATION_MODIFIERS)
        elif truth.material is not None:
            assert truth.material_word == truth.material and truth.material in category.materials
        if truth.copy_of is not None:
            assert truth.copy_of in ids and truth.copy_of < truth.product_id


def test_imitations_and_synonyms_are_a_realistic_share_and_imitations_are_cheaper() -> None:
    _, pairs = stream_catalog_with_truth(seed=4, product_count=SIZE)
    products, truths = zip(*pairs, strict=True)
    precious = [t for t in truths if t.material in IMITATIONS and not t.brand]
    imitations = [t for t in precious if t.imitation]
    assert 0.1 * len(precious) < len(imitations) < 0.35 * len(precious)
    assert {t.material_word[:1] for t in imitations} >= {"仿", "类"} and any(
        t.material_word.startswith("人造") for t in imitations
    )
    with_synonyms = [t for t in truths if t.product_type in {group[0] for group in SYNONYM_GROUPS}]
    synonyms = [t for t in with_synonyms if t.type_word != t.product_type]
    assert 0.2 * len(with_synonyms) < len(synonyms) < 0.4 * len(with_synonyms)
    price = {p.product_id: p.price_fen for p in products}
    genuine = [price[t.product_id] for t in precious if not t.imitation and t.copy_of is None]
    imitated = [price[t.product_id] for t in imitations if t.copy_of is None]
    assert statistics.median(imitated) < 0.7 * statistics.median(genuine)
    copies = [t for t in truths if t.copy_of is not None]
    assert 0.02 * SIZE < len(copies) < 0.1 * SIZE
    by_id = {t.product_id: t for t in truths}
    for copy in copies:
        original = by_id[copy.copy_of]  # type: ignore[index]
        assert (copy.product_type, copy.material, copy.imitation) == (
            original.product_type,
            original.material,
            original.imitation,
        )

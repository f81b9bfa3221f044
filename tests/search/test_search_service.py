"""SearchService end to end through a real gRPC server: catalog writes, recall, ranking,
shaping, paging, explain, validation, idempotency and the rebuild from SQLite at start."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from xiaodian import Client, errors
from xiaodian.platform.config import Config
from xiaodian.platform.server import XiaodianServer
from xiaodian.v1 import search_service_pb2 as pb

DAY_S = 86_400
OLD = Timestamp(seconds=1_600_000_000)


def shop(shop_id: str, name: str, *, is_brand: bool = False, opened_at: Timestamp = OLD, score: float = 4.5) -> pb.Shop:
    return pb.Shop(
        shop_id=shop_id,
        name=name,
        is_brand=is_brand,
        opened_at=opened_at,
        experience_score=score,
        experience_review_count=100,
    )


def product(product_id: str, shop_id: str, title: str, **fields: object) -> pb.Product:
    defaults: dict[str, object] = {"category_id": "c-misc", "price_fen": 9900, "stock": 10, "version": 1}
    return pb.Product(product_id=product_id, shop_id=shop_id, title=title, **{**defaults, **fields})


CATALOG_SHOPS = [
    shop("s-pine", "山下有松", is_brand=True),
    shop("s-wool", "羊绒小店"),
    shop("s-tech", "数码配件铺"),
]
CATALOG_PRODUCTS = [
    product("p-scarf-brand", "s-pine", "山下有松 羊绒围巾女 2025新款", brand="山下有松", category_id="c-scarf"),
    product("p-scarf", "s-wool", "羊绒围巾 女士 冬季加厚", category_id="c-scarf", price_fen=5900, sales_30d=300),
    product("p-cotton", "s-wool", "纯棉围巾 春秋薄款", category_id="c-scarf", price_fen=2900),
    product("p-case", "s-tech", "iPhone15手机壳 防摔透明", category_id="c-case", price_fen=1900),
    product("p-bank", "s-tech", "中国农业发展银行 纪念币收藏册", category_id="c-misc"),
    product("p-todo", "s-tech", "待处理 订单标签贴纸 100张", category_id="c-misc", stock=0),
]


@pytest.fixture
def catalog(client: Client) -> Client:
    client.upsert_shops(shops=CATALOG_SHOPS)
    client.upsert_products(products=CATALOG_PRODUCTS)
    return client


def ids(response: pb.SearchResponse) -> list[str]:
    return [hit.product_id for hit in response.hits]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("处理", "p-todo"),  # infix: 处理 inside 待处理
        ("农业", "p-bank"),  # infix: 农业 inside 中国农业发展银行
        ("iphone 15 手机壳", "p-case"),  # mixed script, split where the script changes
        ("ＩＰＨＯＮＥ１５", "p-case"),  # full-width letters and digits
        ("IPHONE15 手机壳", "p-case"),  # case
        ("羊绒围巾", "p-scarf"),
    ],
)
def test_chinese_recall(catalog: Client, query: str, expected: str) -> None:
    assert expected in ids(catalog.search(query=query))


def test_brand_shops_rank_first_at_equal_text_and_explain_adds_up(catalog: Client) -> None:
    response = catalog.search(query="羊绒围巾", explain=True, page_size=2)
    assert ids(response)[0] == "p-scarf-brand"
    assert not response.second_tier_searched  # 3 first-tier matches fill a page of 2
    assert response.first_tier_matched == response.total_matched == 3
    for hit in response.hits:
        signals = {s.signal: s for s in hit.explanation.signals}
        additive = sum(signals[n].contribution for n in ("text", "hero_quality", "rating", "shop_score", "sales"))
        factors = signals["brand_multiplier"].contribution * signals["new_merchant_multiplier"].contribution
        assert math.isclose(additive * factors, hit.score, rel_tol=1e-12)
        assert signals["text"].value == hit.explanation.first_phase_score
        assert "羊绒" in hit.explanation.matched_terms
    assert {s.signal: s.value for s in response.hits[0].explanation.signals}["brand_multiplier"] == 2.0


def test_query_naming_a_shop_puts_its_products_first(catalog: Client) -> None:
    response = catalog.search(query="羊绒小店")
    assert set(ids(response)[:2]) == {"p-scarf", "p-cotton"}


def test_two_words_are_both_required_and_three_words_may_fall_to_a_second_tier(catalog: Client) -> None:
    response = catalog.search(query="羊绒 纪念币")
    assert not response.second_tier_searched and ids(response) == []
    response = catalog.search(query="羊绒 围巾 纪念币", explain=True)
    assert response.second_tier_searched and response.any_term_match  # the deprecated twin
    assert response.first_tier_matched == 0 and response.second_tier_matched == response.total_matched == 3
    assert set(ids(response)) == {"p-scarf", "p-scarf-brand", "p-cotton"}  # not p-bank: one word of three
    assert {hit.tier for hit in response.hits} == {2} == {hit.explanation.tier for hit in response.hits}


def test_filters_and_sorts(catalog: Client) -> None:
    by_price = catalog.search(query="围巾", sort=pb.SEARCH_SORT_PRICE_ASCENDING)
    assert ids(by_price) == ["p-cotton", "p-scarf", "p-scarf-brand"]
    cheap = catalog.search(query="围巾", filter=pb.SearchFilter(max_price_fen=6000, min_price_fen=3000))
    assert ids(cheap) == ["p-scarf"]
    assert ids(catalog.search(query="贴纸", filter=pb.SearchFilter(in_stock_only=True))) == []
    browse = catalog.search(filter=pb.SearchFilter(category_ids=["c-scarf"]), sort=pb.SEARCH_SORT_SALES)
    assert ids(browse)[0] == "p-scarf"
    assert browse.total_matched == 3


def test_new_merchant_multiplier_applies_inside_the_window(client: Client) -> None:
    import time

    recent = Timestamp(seconds=int(time.time()) - 10 * DAY_S)
    client.upsert_shops(shops=[shop("s-new", "新店", opened_at=recent), shop("s-old", "老店")])
    client.upsert_products(products=[product("a", "s-new", "羊绒围巾女款"), product("b", "s-old", "羊绒围巾女款")])
    response = client.search(query="羊绒围巾", explain=True)
    assert ids(response) == ["a", "b"]
    factors = {s.signal: s.contribution for s in response.hits[0].explanation.signals}
    assert factors["new_merchant_multiplier"] == 1.2


def test_pages_cover_every_match_once_with_shop_caps(client: Client) -> None:
    client.upsert_shops(shops=[shop("big", "大店"), shop("small", "小店")])
    products = [product(f"b{i:02d}", "big", f"羊绒围巾 款式{i}") for i in range(25)]
    products += [product(f"s{i:02d}", "small", f"羊绒围巾 样式{i}") for i in range(5)]
    client.upsert_products(products=products)
    seen: list[str] = []
    token = ""
    for _ in range(40):
        response = client.search(query="羊绒围巾", page_size=4, max_per_shop=2, page_token=token)
        assert response.total_matched == 30
        shops = [hit.shop_id for hit in response.hits]
        assert shops.count("big") <= 2 and shops.count("small") <= 2
        seen += ids(response)
        token = response.next_page_token
        if not token:
            break
    assert sorted(seen) == sorted(p.product_id for p in products)


def test_page_tokens_are_checked(catalog: Client) -> None:
    first = catalog.search(query="围巾", page_size=1)
    assert first.next_page_token
    with pytest.raises(errors.InvalidArgument) as caught:
        catalog.search(query="羊绒", page_size=1, page_token=first.next_page_token)
    assert caught.value.violations[0].field == "page_token"
    with pytest.raises(errors.InvalidArgument):
        catalog.search(query="围巾", page_size=1, page_token="not-a-token")


def test_a_page_token_pins_the_profile_version(catalog: Client) -> None:
    first = catalog.search(query="围巾", page_size=1)
    catalog.update_ranking_profile(profile=pb.RankingProfile(name="default", brand_multiplier=0.0))
    second = catalog.search(query="围巾", page_size=1, page_token=first.next_page_token)
    assert second.profile_version == first.profile_version == 1
    assert catalog.search(query="围巾").profile_version == 2


def test_a_named_profile_changes_the_ranking(catalog: Client) -> None:
    catalog.update_ranking_profile(profile=pb.RankingProfile(name="sales-first", sales_weight=100.0))
    response = catalog.search(query="羊绒围巾", profile="sales-first")
    assert (response.profile, ids(response)[0]) == ("sales-first", "p-scarf")
    with pytest.raises(errors.NotFound):
        catalog.search(query="羊绒围巾", profile="missing")


def test_stale_versions_are_skipped_and_reported(catalog: Client) -> None:
    newer = product("p-case", "s-tech", "iPhone16手机壳 磁吸", version=5, category_id="c-case")
    assert catalog.upsert_products(products=[newer]).results[0].outcome == pb.UPSERT_OUTCOME_UPDATED
    older = product("p-case", "s-tech", "iPhone14手机壳 旧款", version=3, category_id="c-case")
    result = catalog.upsert_products(products=[older]).results[0]
    assert (result.outcome, result.stored_version) == (pb.UPSERT_OUTCOME_STALE, 5)
    assert ids(catalog.search(query="iphone16")) == ["p-case"]
    assert "p-case" not in ids(catalog.search(query="旧款"))
    assert [h.title for h in catalog.search(query="iphone").hits] == ["iPhone16手机壳 磁吸"]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"title": "短"}, "products[1].title"),
        ({"title": "长" * 61}, "products[1].title"),
        ({"price_fen": -1}, "products[1].price_fen"),
        ({"stock": -5}, "products[1].stock"),
        ({"shop_id": "s-nowhere"}, "products[1].shop_id"),
        ({"product_id": ""}, "products[1].product_id"),
        ({"product_id": "bad id!"}, "products[1].product_id"),
        ({"category_id": ""}, "products[1].category_id"),
        ({"rating_count": 2, "rating_sum": 11}, "products[1].rating_sum"),
        ({"rating_count": 2, "rating_sum": 1}, "products[1].rating_sum"),
        ({"brand": "b" * 31}, "products[1].brand"),
        ({"product_id": "ok-1"}, "products[1]"),  # duplicate id within the request
    ],
)
def test_an_invalid_product_rejects_the_whole_batch(client: Client, bad: dict[str, object], field: str) -> None:
    client.upsert_shops(shops=[shop("s1", "店一")])
    good = product("ok-1", "s1", "羊绒围巾 正品")
    fields = {"product_id": "bad-1", "shop_id": "s1", "title": "羊绒围巾 二号", "category_id": "c", **bad}
    broken = pb.Product(**fields)  # type: ignore[arg-type]
    with pytest.raises(errors.InvalidArgument) as caught:
        client.upsert_products(products=[good, broken])
    assert [v.field for v in caught.value.violations] == [field]
    assert client.search(query="羊绒围巾").total_matched == 0


def test_invalid_shops_and_searches_name_the_field(client: Client) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        client.upsert_shops(shops=[pb.Shop(shop_id="s1", name="", opened_at=OLD), shop("s2", "店", score=7.0)])
    assert {v.field for v in caught.value.violations} == {"shops[0].name", "shops[1].experience_score"}
    for request, field in [
        ({"query": ""}, "query"),
        ({"query": "x" * 101}, "query"),
        ({"query": "围巾", "page_size": 101}, "page_size"),
        ({"query": "围巾", "filter": pb.SearchFilter(min_price_fen=5, max_price_fen=1)}, "filter.max_price_fen"),
    ]:
        with pytest.raises(errors.InvalidArgument) as caught:
            client.search(**request)
        assert caught.value.violations[0].field == field


def test_writes_are_idempotent_by_request_id(catalog: Client) -> None:
    request = pb.UpsertProductsRequest(request_id="batch-7", products=[product("p-new", "s-wool", "羊绒手套 女")])
    first = catalog.upsert_products(request)
    assert first.results[0].outcome == pb.UPSERT_OUTCOME_CREATED
    assert catalog.upsert_products(request) == first  # replayed, not re-applied (it would say UPDATED)
    request.products[0].title = "羊绒手套 男"
    with pytest.raises(errors.AlreadyExists):
        catalog.upsert_products(request)


def test_delete_and_stream_upsert(catalog: Client) -> None:
    deleted = catalog.delete_products(product_ids=["p-case", "p-none"])
    assert (deleted.deleted_count, list(deleted.not_found_product_ids)) == (1, ["p-none"])
    assert catalog.search(query="手机壳").total_matched == 0
    batches = [
        pb.StreamUpsertProductsRequest(
            request_id=f"stream-{i}", products=[product(f"st{i}", "s-tech", f"数据线 快充{i}号")]
        )
        for i in range(3)
    ]
    summary = catalog.stream_upsert_products(batches)
    assert (summary.batch_count, summary.created_count) == (3, 3)
    # Retrying the whole stream replays every batch: nothing changes, nothing is counted twice.
    assert catalog.stream_upsert_products(batches) == summary
    assert catalog.search(query="快充").total_matched == 3


def test_a_bad_hero_image_rejects_the_batch_naming_the_field_and_reason(catalog: Client) -> None:
    good = product("p-ok", "s-wool", "羊绒围巾 无图款")
    broken = product("p-img", "s-wool", "羊绒围巾 带图", hero_image=pb.HeroImage(image_bytes=b"\x89PNG\r\n\x1a\n"))
    with pytest.raises(errors.InvalidArgument) as caught:
        catalog.upsert_products(products=[good, broken])
    [violation] = caught.value.violations
    assert violation.field == "products[1].hero_image.image_bytes"
    assert violation.description.split(":")[0] in {"corrupt", "format"}
    assert "p-ok" not in ids(catalog.search(query="无图款"))


def test_the_index_is_rebuilt_from_sqlite_at_start(tmp_path: Path) -> None:
    config = Config.ephemeral(tmp_path / "data")
    first = XiaodianServer(config)
    first.start()
    with first.admin_client(timeout=10) as client:
        client.upsert_shops(shops=CATALOG_SHOPS)
        client.upsert_products(products=CATALOG_PRODUCTS)
        client.upsert_shops(shops=[shop("s-wool", "羊毛小店")])  # rename: re-indexed under the new name
        before = client.search(query="羊毛小店", explain=True)
    first.stop(grace=1)
    second = XiaodianServer(config)
    second.start()
    try:
        with second.admin_client(timeout=10) as client:
            after = client.search(query="羊毛小店", explain=True)
    finally:
        second.stop(grace=1)
    assert set(ids(after)[:2]) == {"p-scarf", "p-cotton"}
    assert [(h.product_id, h.score) for h in after.hits] == [(h.product_id, h.score) for h in before.hits]


def test_a_failed_index_update_rebuilds_the_index_from_the_committed_catalog(
    server: XiaodianServer, client: Client
) -> None:
    class Failing:
        """An index whose next product upsert fails, as a bug would."""

        def __init__(self, real: object) -> None:
            self.real = real

        def __getattr__(self, name: str) -> object:
            if name == "upsert_products":
                raise RuntimeError("injected index failure")
            return getattr(self.real, name)

    client.upsert_shops(shops=CATALOG_SHOPS)
    server.search.engine = Failing(server.search.engine)  # type: ignore[assignment]
    result = client.upsert_products(products=CATALOG_PRODUCTS)  # committed: the caller is told so
    assert len(result.results) == len(CATALOG_PRODUCTS)
    assert not isinstance(server.search.engine, Failing)
    assert "p-case" in ids(client.search(query="iphone 15 手机壳"))

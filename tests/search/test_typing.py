"""Search as shoppers type (SPEC §3, issue 24), through a real gRPC server: full pinyin (spaced
or not), initials, mixed script, same-sound characters and Latin typos find the Chinese words
and brands below exact matches, explain says how, and the profile weighs them."""

from __future__ import annotations

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from xiaodian import Client, errors
from xiaodian.v1 import search_service_pb2 as pb

OLD = Timestamp(seconds=1_600_000_000)


def shop(shop_id: str, name: str) -> pb.Shop:
    return pb.Shop(shop_id=shop_id, name=name, opened_at=OLD, experience_score=4.5, experience_review_count=100)


def product(product_id: str, shop_id: str, title: str, brand: str = "", sales_30d: int = 0) -> pb.Product:
    return pb.Product(
        product_id=product_id,
        shop_id=shop_id,
        title=title,
        brand=brand,
        category_id="c-misc",
        price_fen=9900,
        stock=10,
        sales_30d=sales_30d,
        version=1,
    )


PRODUCTS = [
    product("scarf", "s-wool", "羊绒围巾女 冬季加厚", sales_30d=300),
    product("scarf-2", "s-wool", "羊绒 加厚 围巾 男士", sales_30d=20),
    product("down", "s-wool", "羽绒服男 冬季 短款", sales_30d=900),
    product("cup", "s-home", "保温杯 316不锈钢 便携"),
    product("case-15", "s-tech", "iPhone15 手机壳 防摔"),
    product("case-16", "s-tech", "iPhone16 手机壳 防摔"),
    product("tv", "s-tech", "4K 电视机 客厅", brand="Samsung"),
]


@pytest.fixture
def catalog(client: Client) -> Client:
    client.upsert_shops(shops=[shop("s-wool", "暖冬小店"), shop("s-home", "居家好物"), shop("s-tech", "数码配件")])
    client.upsert_products(products=PRODUCTS)
    return client


def ids(response: pb.SearchResponse) -> list[str]:
    return [hit.product_id for hit in response.hits]


def approximations(hit: pb.SearchHit) -> list[tuple[str, str, str]]:
    return [
        (m.query_word, m.matched, pb.ApproximateMatchKind.Name(m.kind)) for m in hit.explanation.approximate_matches
    ]


def test_full_pinyin_spaced_or_not_and_mixed_script_find_the_chinese_words(catalog: Client) -> None:
    # Words typed apart match apart, like 羊绒 围巾 typed in characters.
    for query in ["yangrong weijin", "羊绒weijin", "YangRong WeiJin"]:
        response = catalog.search(query=query, explain=True)
        assert set(ids(response)) == {"scarf", "scarf-2"}, query
    # Typed whole, the title phrase 羊绒围巾 is one word: the titles that have it.
    for query in ["yangrongweijin", "yang rong wei jin"]:
        response = catalog.search(query=query, explain=True)
        assert ids(response) == ["scarf"], query
        assert approximations(response.hits[0]) == [("yangrongweijin", "羊绒围巾", "APPROXIMATE_MATCH_KIND_PINYIN")]
    explained = catalog.search(query="yangrong weijin", explain=True).hits[0]
    assert approximations(explained) == [
        ("yangrong", "羊绒", "APPROXIMATE_MATCH_KIND_PINYIN"),
        ("weijin", "围巾", "APPROXIMATE_MATCH_KIND_PINYIN"),
    ]
    assert ids(catalog.search(query="baowenbei")) == ["cup"]


def test_initials_find_the_words_they_begin(catalog: Client) -> None:
    response = catalog.search(query="yrwj", explain=True)
    assert ids(response) == ["scarf"]
    assert approximations(response.hits[0]) == [("yrwj", "羊绒围巾", "APPROXIMATE_MATCH_KIND_INITIALS")]
    apart = catalog.search(query="yr wj", explain=True)
    assert set(ids(apart)) == {"scarf", "scarf-2"}
    assert ids(catalog.search(query="bwb")) == ["cup"]


def test_a_same_sound_typo_matches_the_word_it_sounds_like(catalog: Client) -> None:
    for query in ["洋绒围巾", "羊绒围金"]:
        response = catalog.search(query=query, explain=True)
        assert set(ids(response)) == {"scarf", "scarf-2"}, query
        kinds = {kind for *_, kind in approximations(response.hits[0])}
        assert kinds == {"APPROXIMATE_MATCH_KIND_SAME_SOUND"}, query


def test_latin_typos_match_within_their_edits_and_digits_never(catalog: Client) -> None:
    response = catalog.search(query="samsnug", explain=True)
    assert ids(response) == ["tv"]
    assert approximations(response.hits[0]) == [("samsnug", "samsung", "APPROXIMATE_MATCH_KIND_TYPO")]
    assert ids(catalog.search(query="iphnoe 15")) == ["case-15"]
    assert ids(catalog.search(query="iphone17")) == []  # 17 is never 15 or 16
    assert ids(catalog.search(query="ipho")) == []  # four letters: no typo


def test_a_word_the_catalog_has_is_never_approximated(catalog: Client) -> None:
    exact = catalog.search(query="羊绒围巾", explain=True)
    assert set(ids(exact)) == {"scarf", "scarf-2"}
    assert all(not hit.explanation.approximate_matches for hit in exact.hits)
    # Approximate terms weigh approximate_weight (0.7): the same product scores lower.
    by_pinyin = catalog.search(query="yangrongweijin", explain=True)
    exact_score = {hit.product_id: hit.explanation.first_phase_score for hit in exact.hits}
    for hit in by_pinyin.hits:
        assert hit.explanation.first_phase_score < exact_score[hit.product_id]


def test_approximate_weight_is_a_versioned_profile_setting(catalog: Client) -> None:
    latest = catalog.get_ranking_profile(name="default").profile
    assert latest.approximate_weight == pytest.approx(0.7)
    before = catalog.search(query="yangrongweijin", explain=True).hits[0].explanation.first_phase_score
    catalog.update_ranking_profile(profile=pb.RankingProfile(name="default", approximate_weight=0.35))
    after = catalog.search(query="yangrongweijin", explain=True).hits[0].explanation.first_phase_score
    assert after == pytest.approx(before / 2)
    for bad in (0.0, 1.0, float("nan")):
        with pytest.raises(errors.InvalidArgument) as refused:
            catalog.update_ranking_profile(profile=pb.RankingProfile(name="default", approximate_weight=bad))
        assert [field for field, _ in refused.value.violations] == ["profile.approximate_weight"]

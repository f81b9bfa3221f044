"""Search precision for Chinese shoppers (SPEC §3), through a real gRPC server: the examples a
new user met on a small catalog, each now answered by the tiers of query words and by scores
that agree with the order."""

from __future__ import annotations

import json

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from xiaodian import Client, errors
from xiaodian.v1 import search_service_pb2 as pb

OLD = Timestamp(seconds=1_600_000_000)


def shop(shop_id: str, name: str, *, is_brand: bool = False) -> pb.Shop:
    return pb.Shop(
        shop_id=shop_id, name=name, is_brand=is_brand, opened_at=OLD, experience_score=4.5, experience_review_count=100
    )


def product(product_id: str, shop_id: str, title: str, sales_30d: int = 0) -> pb.Product:
    return pb.Product(
        product_id=product_id,
        shop_id=shop_id,
        title=title,
        category_id="c-misc",
        price_fen=9900,
        stock=10,
        sales_30d=sales_30d,
        version=1,
    )


SHOPS = [shop("s-home", "居家好物"), shop("s-wool", "暖冬小店"), shop("s-brand", "山下有松", is_brand=True)]
PRODUCTS = [
    # Towels and socks: 纯棉加厚浴巾 has three words; socks have two of them and sell more.
    product("towel-1", "s-home", "纯棉加厚浴巾 大号 吸水", sales_30d=10),
    product("towel-2", "s-home", "加厚纯棉浴巾 成人 柔软", sales_30d=5),
    product("socks-1", "s-home", "纯棉袜子 加厚 秋冬 男女", sales_30d=5000),
    product("socks-2", "s-home", "加厚纯棉中筒袜", sales_30d=3000),
    # Small and large capacity.
    product("cup-small", "s-home", "小容量保温杯 便携 200ml"),
    product("cup-large", "s-home", "大容量保温杯 1500ml 户外"),
    product("bottle-large", "s-home", "大容量 运动水壶 2L"),
    # A velvet apron shares only the straddling bigram 绒围 with 羊绒围巾.
    product("apron", "s-home", "天鹅绒围裙 厨房 防水"),
    product("scarf", "s-wool", "羊绒围巾 女士 冬季加厚", sales_30d=300),
    product("scarf-brand", "s-brand", "山下有松 羊绒围巾女 2025新款", sales_30d=1200),
    # A shop whose name is a query: its products rank first, with lower raw scores.
    product("warm-1", "s-wool", "暖冬 羊绒 手套"),
    product("warm-2", "s-wool", "加厚毛线帽"),
]


@pytest.fixture
def catalog(client: Client) -> Client:
    client.upsert_shops(shops=SHOPS)
    client.upsert_products(products=PRODUCTS)
    return client


def ids(response: pb.SearchResponse) -> list[str]:
    return [hit.product_id for hit in response.hits]


def test_the_first_tier_ranks_before_the_second_under_every_sort(catalog: Client) -> None:
    for sort in pb.SearchSort.values():
        if sort == pb.SEARCH_SORT_UNSPECIFIED:
            continue
        response = catalog.search(query="纯棉加厚浴巾", sort=sort)
        assert response.second_tier_searched
        assert (response.first_tier_matched, response.second_tier_matched) == (2, 2)
        assert set(ids(response)[:2]) == {"towel-1", "towel-2"}, pb.SearchSort.Name(sort)
        assert set(ids(response)[2:]) == {"socks-1", "socks-2"}
        assert [hit.tier for hit in response.hits] == [1, 1, 2, 2]


def test_a_one_character_word_is_required(catalog: Client) -> None:
    response = catalog.search(query="小容量")
    assert ids(response) == ["cup-small"]
    assert not response.second_tier_searched  # two words: both, always


def test_a_bigram_straddling_two_words_never_makes_a_match(catalog: Client) -> None:
    response = catalog.search(query="羊绒围巾", page_size=20)
    assert set(ids(response)) == {"scarf", "scarf-brand"}
    assert response.total_matched == response.first_tier_matched == 2


def test_shown_scores_never_increase_down_the_list(catalog: Client) -> None:
    # The re-rank depth's runs of scores are covered by the Rust tests and the reference.
    for query in ["暖冬小店", "纯棉加厚浴巾", "羊绒围巾", "保温杯", "加厚"]:
        scores = [hit.score for hit in catalog.search(query=query, page_size=20).hits]
        assert scores == sorted(scores, reverse=True), (query, scores)
    navigated = catalog.search(query="暖冬小店")
    assert {"warm-1", "warm-2", "scarf"} == set(ids(navigated)[:3])


def test_synonyms_of_the_default_profile_match_below_the_word_as_typed(client: Client) -> None:
    client.upsert_shops(shops=[shop("s-tech", "数码配件铺")])
    client.upsert_products(
        products=[
            product("typed", "s-tech", "硅胶手机套 防摔 透明"),
            product("case", "s-tech", "硅胶手机壳 防摔 透明"),
            product("guard", "s-tech", "硅胶保护壳 防摔 透明"),
            product("film", "s-tech", "钢化手机膜 防摔 透明"),
        ]
    )
    response = client.search(query="硅胶手机套", explain=True)
    assert ids(response)[0] == "typed"
    assert set(ids(response)) == {"typed", "case", "guard"}
    explained = {hit.product_id: list(hit.explanation.matched_synonyms) for hit in response.hits}
    assert explained == {"typed": [], "case": ["手机壳"], "guard": ["保护壳"]}
    scores = {hit.product_id: hit.explanation.first_phase_score for hit in response.hits}
    assert scores["typed"] > scores["case"]  # the synonym's terms weigh 0.8


def test_synonyms_are_a_versioned_profile_setting(client: Client) -> None:
    latest = client.get_ranking_profile(name="default").profile
    assert [list(g.words) for g in latest.synonyms.groups][:2] == [["手机壳", "手机套", "保护壳"], ["卫衣", "连帽衫"]]
    assert latest.synonym_weight == 0.8
    cleared = client.update_ranking_profile(
        profile=pb.RankingProfile(name="default", synonyms=pb.SynonymGroups()), expected_version=latest.version
    ).profile
    assert cleared.version == latest.version + 1 and not cleared.synonyms.groups
    kept = client.update_ranking_profile(profile=pb.RankingProfile(name="default", brand_multiplier=1.5)).profile
    assert not kept.synonyms.groups  # unset: the latest version's groups (none) stay
    restored = client.update_ranking_profile(
        profile=pb.RankingProfile(
            name="default",
            synonyms=pb.SynonymGroups(groups=[pb.SynonymGroup(words=["围巾", "围脖"])]),
            synonym_weight=0.5,
        )
    ).profile
    assert [list(g.words) for g in restored.synonyms.groups] == [["围巾", "围脖"]]
    assert client.get_ranking_profile(name="default", version=latest.version).profile == latest


def test_bad_synonyms_are_refused_naming_each_field(client: Client) -> None:
    with pytest.raises(errors.InvalidArgument) as refused:
        client.update_ranking_profile(
            profile=pb.RankingProfile(
                name="syn",
                synonyms=pb.SynonymGroups(
                    groups=[pb.SynonymGroup(words=["手机壳"]), pb.SynonymGroup(words=["手机壳", "iphone壳"])]
                ),
                synonym_weight=1.0,
            )
        )
    fields = [field for field, _ in refused.value.violations]
    assert fields == [
        "profile.synonym_weight",
        "profile.synonyms.groups[0].words",
        "profile.synonyms.groups[1].words[0]",
        "profile.synonyms.groups[1].words[1]",
    ]
    with pytest.raises(errors.NotFound):
        client.get_ranking_profile(name="syn")


def test_a_profile_version_stored_before_synonyms_reads_as_none() -> None:
    from xiaodian import _core
    from xiaodian.search import profiles

    builtin = _core.default_ranking_profile()
    old = {k: v for k, v in builtin.items() if k not in ("name", "synonyms", "synonym_weight")}
    stored = profiles._row_to_profile(("default", 1, json.dumps(old), 0))
    assert stored.settings["synonyms"] == [] and stored.settings["synonym_weight"] == 0.8
    _core.validate_ranking_profile(stored.as_engine_dict())
    assert not stored.to_proto().synonyms.groups


def test_an_imitation_never_answers_the_genuine_word(client: Client) -> None:
    client.upsert_shops(shops=[shop("s-wool", "暖冬小店")])
    client.upsert_products(
        products=[
            product("genuine", "s-wool", "羊绒围巾 女士 冬季"),
            product("imitation", "s-wool", "仿羊绒围巾 女士 冬季", sales_30d=9000),
            product("like", "s-wool", "类羊绒围巾 女士 冬季"),
            product("grade", "s-wool", "A类口水巾 纯棉"),
        ]
    )
    assert ids(client.search(query="羊绒围巾")) == ["genuine"]
    assert set(ids(client.search(query="仿羊绒围巾"))) == {"imitation", "like"}
    # Three words: the imitations follow the genuine product in the second tier, explained.
    response = client.search(query="羊绒围巾 女士", explain=True)
    assert ids(response)[0] == "genuine" and response.hits[0].tier == 1
    for hit in response.hits[1:]:
        assert hit.tier == 2 and list(hit.explanation.negated_words) == ["羊绒"]
    # 类 right after a letter is a grade (A类), not a modifier.
    assert ids(client.search(query="口水巾")) == ["grade"]


def test_negating_modifiers_are_a_setting_checked_at_start(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from xiaodian.platform.config import ConfigError, load_config

    path = tmp_path / "xiaodian.toml"
    path.write_text('[search]\nnegating_modifiers = ["仿", "高仿"]\n', encoding="utf-8")
    assert load_config(path, environ={}).search.negating_modifiers == ["仿", "高仿"]
    assert load_config(None, environ={"XIAODIAN_SEARCH_NEGATING_MODIFIERS": "仿, 类"}).search.negating_modifiers == [
        "仿",
        "类",
    ]
    path.write_text('[search]\nnegating_modifiers = ["仿", "fake"]\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"negating_modifiers\[1\]"):
        load_config(path, environ={})


def test_the_original_listing_wins_duplicate_collapse(client: Client) -> None:
    client.upsert_shops(shops=[shop("s-orig", "原创围巾"), shop("s-copy", "搬运小铺")])
    hero = 0xF0F0_1234_5678_9ABC

    def listed(product_id: str, shop_id: str, dhash: int, listed_s: int, sales: int) -> pb.Product:
        p = product(product_id, shop_id, "羊绒围巾 冬季 加厚", sales_30d=sales)
        p.hero_image.report.CopyFrom(pb.HeroImageReport(width=800, height=800, dhash=dhash, quality=0.8))
        p.listed_at.FromSeconds(listed_s)
        return p

    client.upsert_products(
        products=[
            listed("original", "s-orig", hero, 1_700_000_000, sales=10),
            listed("copy", "s-copy", hero ^ 0b11, 1_750_000_000, sales=50_000),  # re-encoded, sells more
        ]
    )
    kept = client.search(query="羊绒围巾", keep_duplicates=True)
    assert ids(kept) == ["copy", "original"]
    collapsed = client.search(query="羊绒围巾")
    assert ids(collapsed) == ["original"]
    assert collapsed.hits[0].collapsed_duplicates == 1
    assert collapsed.hits[0].score == kept.hits[0].score  # shown at the group's best position

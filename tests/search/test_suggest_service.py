"""SearchService.Suggest (搜索联想) end to end through a real gRPC server, as the proto states it:
completions of a prefix in Chinese characters, full pinyin (with or without spaces and
apostrophes) or pinyin initials, from title words and phrases, shop names and brands; the
matched part (`matched_chars`); popularity (the sum of 1 + sales_30d over the live products
that have it), most popular first and ties by text; `limit`; validation naming the field; the
search:read scope; and the `xiaodian suggest` command."""

from __future__ import annotations

import time
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from xiaodian import Client, errors
from xiaodian.platform import auth
from xiaodian.platform.config import Config
from xiaodian.platform.server import XiaodianServer
from xiaodian.v1 import search_service_pb2 as pb

OLD = Timestamp(seconds=1_600_000_000)

#: How long a Suggest may take to see a write (completions are rebuilt in the background).
FRESH_WITHIN_S = 10.0

TITLE, SHOP_NAME, BRAND = pb.SUGGESTION_SOURCE_TITLE, pb.SUGGESTION_SOURCE_SHOP_NAME, pb.SUGGESTION_SOURCE_BRAND
TEXT, PINYIN, INITIALS = pb.SUGGESTION_MATCH_TEXT, pb.SUGGESTION_MATCH_PINYIN, pb.SUGGESTION_MATCH_INITIALS


def shop(shop_id: str, name: str) -> pb.Shop:
    return pb.Shop(shop_id=shop_id, name=name, opened_at=OLD, experience_score=4.5, experience_review_count=100)


def product(product_id: str, shop_id: str, title: str, sales_30d: int = 0, brand: str = "") -> pb.Product:
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


#: Latin title words starting with "a", with their products' sales: no Chinese word of the
#: catalog reads (or begins its initials) with "a", so these are every completion of "a".
A_WORDS = {
    "apple": 50,
    "apricot": 50,
    "avocado": 10,
    **dict.fromkeys(("acorn", "alpine", "amber", "anchor", "arrow", "atlas", "aurora", "axle", "azure"), 0),
}

PRODUCTS = [
    product("scarf", "s-wool", "羊绒围巾女 冬季加厚", sales_30d=300),
    product("scarf-2", "s-wool", "羊绒 加厚 围巾 男士", sales_30d=20),
    product("down", "s-wool", "羽绒服男 冬季 短款", sales_30d=900),
    product("tv", "s-tech", "4K 电视机 客厅", sales_30d=5, brand="Samsung"),
    *(product(f"fruit-{word}", "s-fruit", f"{word} 新鲜水果", sales_30d=sales) for word, sales in A_WORDS.items()),
]
#: 羊绒's popularity: the two scarves, 1 + sales_30d each.
YANGRONG_POPULARITY = (1 + 300) + (1 + 20)


@pytest.fixture
def catalog(client: Client) -> Client:
    client.upsert_shops(shops=[shop("s-wool", "暖冬小店"), shop("s-tech", "数码配件"), shop("s-fruit", "果园直供")])
    client.upsert_products(products=PRODUCTS)
    return client


def completions(response: pb.SuggestResponse) -> dict[str, pb.Suggestion]:
    found = {s.text: s for s in response.suggestions}
    assert len(found) == len(response.suggestions), "a completion is listed twice"
    return found


def assert_most_popular_first(response: pb.SuggestResponse) -> None:
    keys = [(-s.popularity, s.text) for s in response.suggestions]
    assert keys == sorted(keys), "not most popular first, ties by text"


def test_a_chinese_prefix_completes_to_title_words_and_phrases(catalog: Client) -> None:
    response = catalog.suggest(prefix="羊绒")
    found = completions(response)
    assert "羊绒" in found
    for text in ("羊绒", "羊绒围巾"):
        if text in found:
            s = found[text]
            assert (s.matched_chars, s.source, s.match) == (2, TITLE, TEXT), text
    assert found["羊绒"].popularity == YANGRONG_POPULARITY
    assert all(s.text.startswith("羊绒") for s in response.suggestions)
    assert all(s.match == TEXT and 1 <= s.matched_chars <= len(s.text) for s in response.suggestions)
    assert_most_popular_first(response)
    # One character is a prefix too.
    assert "羊绒" in completions(catalog.suggest(prefix="羊"))
    assert completions(catalog.suggest(prefix="羊"))["羊绒"].matched_chars == 1


@pytest.mark.parametrize("prefix", ["yangr", "yangrong", "yang rong", "yang'r", "YangR", "ｙａｎｇｒ"])
def test_full_pinyin_completes_to_the_chinese_word_and_marks_a_partly_typed_syllable(
    catalog: Client, prefix: str
) -> None:
    found = completions(catalog.suggest(prefix=prefix))
    assert "羊绒" in found, prefix
    s = found["羊绒"]
    # yang is 羊 and r begins 绒's syllable: both characters are matched.
    assert (s.matched_chars, s.source, s.match, s.popularity) == (2, TITLE, PINYIN, YANGRONG_POPULARITY)


def test_pinyin_initials_complete_to_every_word_they_begin(catalog: Client) -> None:
    response = catalog.suggest(prefix="yr")
    found = completions(response)
    assert {"羊绒", "羽绒"} <= set(found)
    for text in ("羊绒", "羽绒"):
        assert (found[text].matched_chars, found[text].match) == (2, INITIALS), text
    assert found["羽绒"].popularity == 1 + 900
    # 羽绒 (901) before 羊绒 (322): most popular first.
    texts = [s.text for s in response.suggestions]
    assert texts.index("羽绒") < texts.index("羊绒")
    assert_most_popular_first(response)


def test_shop_names_and_brands_are_completions_with_their_source(catalog: Client) -> None:
    shop_name = completions(catalog.suggest(prefix="暖冬"))["暖冬小店"]
    assert (shop_name.source, shop_name.match, shop_name.matched_chars) == (SHOP_NAME, TEXT, 2)
    assert completions(catalog.suggest(prefix="nd"))["暖冬小店"].match == INITIALS
    brand = completions(catalog.suggest(prefix="SAMS"))["samsung"]  # normalised: lowercase
    assert (brand.source, brand.match, brand.matched_chars, brand.popularity) == (BRAND, TEXT, 4, 1 + 5)


def test_most_popular_first_ties_by_text_and_limit(catalog: Client) -> None:
    by_popularity = sorted(A_WORDS, key=lambda word: (-(1 + A_WORDS[word]), word))
    everything = catalog.suggest(prefix="a", limit=20)
    assert [s.text for s in everything.suggestions] == by_popularity
    assert [s.popularity for s in everything.suggestions] == [1 + A_WORDS[word] for word in by_popularity]
    assert all((s.source, s.match, s.matched_chars) == (TITLE, TEXT, 1) for s in everything.suggestions)
    # limit 0 means 10; fewer are the first of the same order.
    assert len(A_WORDS) > 10
    assert [s.text for s in catalog.suggest(prefix="a").suggestions] == by_popularity[:10]
    assert [s.text for s in catalog.suggest(prefix="a", limit=0).suggestions] == by_popularity[:10]
    for limit in (1, 3, 11):
        assert [s.text for s in catalog.suggest(prefix="a", limit=limit).suggestions] == by_popularity[:limit]
    # A longer prefix narrows.
    assert [s.text for s in catalog.suggest(prefix="ap", limit=20).suggestions] == ["apple", "apricot"]


def test_no_completion_is_an_empty_list_not_an_error(catalog: Client) -> None:
    assert list(catalog.suggest(prefix="zzzq").suggestions) == []
    assert list(catalog.suggest(prefix="鑫鑫").suggestions) == []


def test_an_empty_catalog_has_no_completions(client: Client) -> None:
    assert list(client.suggest(prefix="羊绒").suggestions) == []


def _violations(caught: pytest.ExceptionInfo[errors.InvalidArgument]) -> list[str]:
    return [v.field for v in caught.value.violations]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"prefix": ""}, "prefix"),
        ({"prefix": "a" * 31}, "prefix"),
        ({"prefix": "羊" * 31}, "prefix"),  # characters, not bytes
        ({"prefix": "羊绒", "limit": 21}, "limit"),
        ({"prefix": "羊绒", "limit": 2**32 - 1}, "limit"),
    ],
)
def test_bad_input_is_invalid_argument_naming_the_field(catalog: Client, fields: dict[str, object], field: str) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        catalog.suggest(pb.SuggestRequest(**fields))
    assert _violations(caught) == [field]
    assert field in caught.value.message


def test_the_bounds_themselves_are_accepted(catalog: Client) -> None:
    assert len(catalog.suggest(prefix="a", limit=20).suggestions) == len(A_WORDS)
    for prefix in ("羊" * 30, "a" * 30, "y"):
        catalog.suggest(prefix=prefix, limit=1)  # no error


def test_a_deleted_product_leaves_the_completions_soon(catalog: Client) -> None:
    """Popularity counts live products only; a Suggest sees a write within a moment."""
    assert completions(catalog.suggest(prefix="yr"))["羽绒"].popularity == 1 + 900
    catalog.delete_products(product_ids=["down"])
    catalog.delete_products(product_ids=["scarf"])
    deadline = time.monotonic() + FRESH_WITHIN_S
    while True:
        found = completions(catalog.suggest(prefix="yr"))
        if "羽绒" not in found and found.get("羊绒", pb.Suggestion()).popularity == 1 + 20:
            break
        assert time.monotonic() < deadline, f"Suggest still answers {found} {FRESH_WITHIN_S} s after the delete"
        time.sleep(0.02)


def test_suggest_needs_the_search_read_scope(tmp_path: Path) -> None:
    config = Config.ephemeral(tmp_path / "data")
    tokens = {}
    for name, scopes in {"storefront": ["search:read"], "loader": ["catalog:write"]}.items():
        tokens[name] = auth.new_token()
        config.auth.tokens[name] = {"sha256": auth.token_sha256(tokens[name]), "scopes": scopes}
    assert auth.METHOD_SCOPES["/xiaodian.v1.SearchService/Suggest"] == "search:read"
    server = XiaodianServer(config)
    server.start()
    try:
        with Client(server.address, token=tokens["loader"], timeout=10) as loader:
            loader.upsert_shops(shops=[shop("s-wool", "暖冬小店")])
            loader.upsert_products(products=PRODUCTS[:2])
            with pytest.raises(errors.PermissionDenied) as caught:
                loader.suggest(prefix="羊绒")
            assert caught.value.reason == "SCOPE_MISSING"
            assert caught.value.metadata["scope"] == "search:read"
        with Client(server.address, token=tokens["storefront"], timeout=10) as storefront:
            assert "羊绒" in completions(storefront.suggest(prefix="yangr"))
        with grpc.insecure_channel(server.address) as channel, pytest.raises(grpc.RpcError) as anonymous:
            request = pb.SuggestRequest(prefix="羊绒").SerializeToString()
            channel.unary_unary("/xiaodian.v1.SearchService/Suggest")(request, timeout=10)  # no token
        assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        server.stop()


def test_cli_suggest_prints_the_completions_with_the_matched_part_marked(
    server: XiaodianServer, catalog: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    from xiaodian import cli

    where = ["--addr", server.address, "--data-dir", server.config.server.data_dir]
    assert cli.main(["suggest", "yangr", *where]) == 0
    out = capsys.readouterr().out
    assert "[羊绒]" in out and "pinyin" in out and "title" in out and f"{YANGRONG_POPULARITY:,}" in out
    assert cli.main(["suggest", "SAMS", "--limit", "1", *where]) == 0
    out = capsys.readouterr().out
    assert "[sams]ung" in out and "brand" in out and "1 completion" in out
    assert cli.main(["suggest", "zzzq", *where]) == 0
    assert "no completions" in capsys.readouterr().out
    assert cli.main(["suggest", "羊绒", "--limit", "21", *where]) == 1
    assert "limit" in capsys.readouterr().err

"""Differential tests: Suggest of the Rust engine (`crates/xiaodian-core/src/rank/suggest.rs`)
against its pure-Python reference (`xiaodian.reference.suggest`). Hypothesis builds catalogs
(titles of words read alike and read several ways, shop names, brands, sales), writes to them
(replacements, deletes, renames), and requires the same completions, in the same order, with
the same matched characters, sources, match kinds and popularity, for prefixes typed as a
shopper types: the start of a catalog word in characters, in full pinyin (any reading, cut
anywhere), in initials, characters then pinyin, a shop name or brand in another width or case,
and junk; and the same refusals of invalid requests."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xiaodian import errors
from xiaodian._core import SearchEngine
from xiaodian.reference import pinyin
from xiaodian.reference.search import ReferenceSearchEngine, is_han
from xiaodian.reference.suggest import ReferenceSuggester

pytestmark = pytest.mark.backend_independent  # run in the SQLite pass only

HAN_WORDS = [
    "羊绒",
    "羽绒",
    "羽绒服",
    "围巾",
    "羊绒围巾",
    "大衣",
    "女",
    "冬季",
    "加厚",
    "长款",
    "银行",
    "行李箱",
    "重量",
    "音乐",
    "保温杯",
    "充电宝",
    "迷你",
    "手机",
    "手机壳",
    "支架",
    "硅胶",
    "保护",
    "壳",
    "天",
    "丝",
    "睡衣",
    "仿",
    "人造",
    "温柔",
    "纯棉",
]
LATIN_WORDS = ["iPhone", "Nike", "samsung", "Pro", "airpods", "T", "15", "ＩＰｈｏｎｅ"]
SEPARATORS = ["", "", " ", " ", "\u3000", "·", "【", "】", "/"]
SHOP_NAMES = [
    "山下有松 旗舰店",
    "羊绒小店",
    "羊绒 小店",
    "数码配件",
    "Nike官方旗舰店",
    "ＮＩＫＥ 官方",
    "长城 小店",
    "【】",
    "店",
]
BRANDS = ["", "", " ", "Nike", "ＮＩＫＥ", "nike ", "Apple", "小米", "羊绒", "山下有松", "！"]
PRODUCT_IDS = [f"p{i:02d}" for i in range(16)]


def shop_record(shop_id: str, name: str) -> dict[str, Any]:
    return {
        "shop_id": shop_id,
        "name": name,
        "is_brand": False,
        "opened_at_s": 0,
        "experience_score": 4.0,
        "experience_review_count": 0,
    }


def product_record(product_id: str, shop_id: str, title: str, brand: str = "", sales_30d: int = 0) -> dict[str, Any]:
    return {
        "product_id": product_id,
        "shop_id": shop_id,
        "title": title,
        "brand": brand,
        "category_id": "c0",
        "price_fen": 100,
        "sales_30d": sales_30d,
        "stock": 1,
        "rating_sum": 0,
        "rating_count": 0,
        "hero_quality": 0.0,
        "dhash": None,
        "listed_at_s": 0,
    }


class Pair:
    """The Rust engine and the reference, written to together."""

    def __init__(self, analysis: str = "full") -> None:
        self.rust = SearchEngine(analysis)
        self.reference = ReferenceSearchEngine(analysis)

    def upsert_shops(self, shops: list[dict[str, Any]]) -> None:
        self.rust.upsert_shops(shops)
        self.reference.upsert_shops(shops)

    def upsert_products(self, products: list[dict[str, Any]]) -> None:
        self.rust.upsert_products(products)
        self.reference.upsert_products(products)

    def delete_products(self, product_ids: list[str]) -> None:
        assert self.rust.delete_products(product_ids) == self.reference.delete_products(product_ids)

    def suggester(self) -> ReferenceSuggester:
        """The completions of both as they are now: the Rust engine rebuilds its own."""
        self.rust.refresh_suggestions()
        return ReferenceSuggester(self.reference)

    def suggest(self, prefix: str, limit: int, suggester: ReferenceSuggester | None = None) -> list[dict[str, Any]]:
        """Both engines' completions, compared (and their refusals of an invalid request)."""
        reference = suggester or self.suggester()
        try:
            rust = self.rust.suggest(prefix, limit)
        except errors.InvalidArgument as refused:
            with pytest.raises(errors.InvalidArgument) as also:
                reference.suggest(prefix, limit)
            assert (str(also.value), also.value.violations) == (str(refused), refused.violations)
            return []
        assert rust == reference.suggest(prefix, limit), (prefix, limit)
        return rust


word = st.one_of(st.sampled_from(HAN_WORDS), st.sampled_from(HAN_WORDS), st.sampled_from(LATIN_WORDS))
titles = st.lists(st.tuples(word, st.sampled_from(SEPARATORS)), min_size=1, max_size=5).map(
    lambda pieces: "".join(w + sep for w, sep in pieces)
)


@st.composite
def products(draw: st.DrawFn, shop_ids: list[str]) -> dict[str, Any]:
    return product_record(
        draw(st.sampled_from(PRODUCT_IDS)),
        draw(st.sampled_from(shop_ids)),
        draw(titles),
        brand=draw(st.sampled_from(BRANDS)),
        sales_30d=draw(st.one_of(st.sampled_from([0, 0, 1, 10, 100, -3]), st.integers(0, 5000))),
    )


def spelt(text: str, draw: st.DrawFn, initials: bool) -> str:
    """The pinyin (or initials) of the Han characters of `text`, each by one of its readings."""
    syllables = [draw(st.sampled_from(pinyin.readings(c))) for c in text if pinyin.readings(c)]
    return "".join(pinyin.initial(s) if initials else s for s in syllables)


@st.composite
def prefixes(draw: st.DrawFn, texts: list[str]) -> str:
    """A prefix of one of `texts` (catalog words, shop names, brands) as a shopper types it."""
    text = draw(st.sampled_from(texts))
    kind = draw(st.sampled_from(["characters", "pinyin", "pinyin", "initials", "mixed", "variant", "junk"]))
    if kind == "junk":
        return str(
            draw(
                st.text(alphabet=st.sampled_from("羊绒yrgzZ0１Ａａ 　·！,-长行"), min_size=1, max_size=8).filter(
                    str.strip
                )
            )
        )
    if kind == "variant":  # another width, case or spacing
        variant = draw(st.sampled_from(["upper", "full width", "spaced"]))
        if variant == "upper":
            text = text.upper()
        elif variant == "full width":
            text = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)
        else:
            text = " ".join(text)
    elif kind in ("pinyin", "initials"):
        text = spelt(text, draw, initials=kind == "initials") or text
    elif kind == "mixed" and is_han(text[0]):  # characters, then the pinyin of the next
        at = draw(st.integers(1, len(text)))
        text = text[:at] + spelt(text[at:], draw, initials=draw(st.booleans()))
    end = draw(st.integers(1, max(1, len(text))))
    return text[:end][:30] if text[:end].strip() else text[:30]


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data(), analysis=st.sampled_from(["full", "full", "full", "bigrams"]))
def test_suggest_agrees_with_the_reference(data: st.DataObject, analysis: str) -> None:
    pair = Pair(analysis)
    shop_ids = [f"s{i}" for i in range(data.draw(st.integers(1, 4), label="shops"))]
    pair.upsert_shops([shop_record(shop_id, data.draw(st.sampled_from(SHOP_NAMES))) for shop_id in shop_ids])
    catalog = data.draw(st.lists(products(shop_ids), min_size=1, max_size=14), label="products")
    pair.upsert_products(catalog)
    for _ in range(data.draw(st.integers(1, 3), label="rounds")):
        suggester = pair.suggester()
        words = {w for w in HAN_WORDS if any(w in p["title"] for p in catalog)}
        texts = sorted({c.text for c in suggester.completions} | words) or ["羊绒"]
        for _ in range(data.draw(st.integers(1, 8), label="prefixes")):
            prefix = data.draw(prefixes(texts))
            pair.suggest(prefix, data.draw(st.sampled_from([1, 2, 3, 5, 10, 20])), suggester)
        change = data.draw(st.sampled_from(["products", "delete", "rename", "none"]))
        if change == "products":
            more = data.draw(st.lists(products(shop_ids), min_size=1, max_size=4))
            catalog.extend(more)
            pair.upsert_products(more)
        elif change == "delete":
            pair.delete_products(data.draw(st.lists(st.sampled_from(PRODUCT_IDS), max_size=4)))
        elif change == "rename":
            shop_id = data.draw(st.sampled_from(shop_ids))
            pair.upsert_shops([shop_record(shop_id, data.draw(st.sampled_from(SHOP_NAMES)))])


@pytest.mark.parametrize(
    ("prefix", "limit"),
    [("", 5), ("  ", 5), ("\u3000", 1), ("a", 0), ("a", 21), ("", 0), ("羊" * 31, 5), ("羊" * 30, 20)],
)
def test_invalid_requests_fail_alike(prefix: str, limit: int) -> None:
    pair = Pair()
    pair.upsert_shops([shop_record("s", "店")])
    pair.upsert_products([product_record("p", "s", "羊绒围巾")])
    pair.suggest(prefix, limit)


def popular_catalog(scarf_sales: int, down_sales: int) -> Pair:
    pair = Pair()
    pair.upsert_shops([shop_record("s1", "山下有松 旗舰店"), shop_record("s2", "数码配件")])
    pair.upsert_products(
        [
            product_record("scarf", "s1", "羊绒围巾女 冬季加厚", sales_30d=scarf_sales),
            product_record("coat", "s1", "羊绒大衣 女", sales_30d=10),
            product_record("down", "s1", "羽绒服 男", sales_30d=down_sales),
            product_record("case", "s2", "iPhone15 手机壳", brand="Apple"),
            product_record("stand", "s2", "手机支架"),
        ]
    )
    return pair


def texts_of(found: list[dict[str, Any]]) -> list[str]:
    return [s["text"] for s in found]


def test_initials_complete_the_more_popular_word_first() -> None:
    popular_scarf = popular_catalog(scarf_sales=100, down_sales=50).suggest("yr", 10)
    assert texts_of(popular_scarf)[:2] == ["羊绒", "羊绒围巾"]
    assert texts_of(popular_scarf).index("羊绒") < texts_of(popular_scarf).index("羽绒")
    assert popular_scarf[0] == {
        "text": "羊绒",
        "matched_chars": 2,
        "source": "title",
        "match": "initials",
        "popularity": 101 + 11,
    }
    popular_down = popular_catalog(scarf_sales=0, down_sales=500).suggest("yr", 10)
    assert texts_of(popular_down).index("羽绒") < texts_of(popular_down).index("羊绒")


def test_the_limit_is_honoured() -> None:
    pair = popular_catalog(scarf_sales=100, down_sales=50)
    everything = pair.suggest("s", 20)
    assert len(everything) > 3
    for limit in range(1, len(everything) + 1):
        assert pair.suggest("s", limit) == everything[:limit]


def test_matched_characters() -> None:
    pair = popular_catalog(scarf_sales=100, down_sales=50)
    matched = {s["text"]: s["matched_chars"] for s in pair.suggest("yangrongw", 5)}
    assert matched["羊绒围巾"] == 3  # 羊 绒 and the 围 of w
    assert pair.suggest("羊r", 5)[0] == {**pair.suggest("羊r", 5)[0], "text": "羊绒", "matched_chars": 2}
    shop = next(s for s in pair.suggest("shanxiayousongq", 5) if s["source"] == "shop_name")
    assert (shop["text"], shop["matched_chars"], shop["match"]) == ("山下有松 旗舰店", 6, "pinyin")  # the space counts
    assert pair.suggest("山下", 5)[0]["matched_chars"] == 2
    assert pair.suggest("ＡＰＰ", 5)[0] == {
        "text": "apple",
        "matched_chars": 3,
        "source": "brand",
        "match": "text",
        "popularity": 1,
    }
    assert pair.suggest("手机z", 5)[0]["text"] == "手机支架"


def test_the_first_key_in_byte_order_names_the_match_among_equal_scores() -> None:
    """羊绒's keys yangrong (pinyin) and yr (initials) both start with y and score alike: the
    entry first in byte order (yangrong) names the match; 羽绒's yr comes before yurong."""
    pair = popular_catalog(scarf_sales=100, down_sales=50)
    found = {s["text"]: s["match"] for s in pair.suggest("y", 20)}
    assert (found["羊绒"], found["羽绒"]) == ("pinyin", "initials")

"""Differential tests: the Rust search engine against its pure-Python reference.

`xiaodian.reference.search.ReferenceSearchEngine` is the executable specification of
`xiaodian._core.SearchEngine`. Hypothesis builds random catalogs and write sequences, applies
them to both, and requires the same hits in the same order, the same counts and flags, the same
matched terms, synonyms, negated words and approximate matches, and scores and explanation
numbers equal to the last bit (the two compute them with the same operations in the same order).

Queries include what shoppers type before a word is finished or spelt right (approximate
matching): the full pinyin of catalog words (spaced or not, any reading), their initials, Han
characters swapped for others read the same, Latin words with typos, and all of these mixed.

Generated Han characters are restricted to U+4E00-U+9FA5, the block jieba's dictionary is made
of. Python jieba only treats U+4E00-U+9FD5 as Han (`re_han_default`) and cuts a run into separate
blocks at any other ideograph, while jieba-rs keeps one block (its class covers U+4E00-U+9FFF and
the extensions); no dictionary word contains such characters, so the words should not change,
but the route sums start at other places and an exact floating-point tie could in principle
resolve differently (a check of 30,000 strings mixing them in found no difference). Characters
outside the common block may also be newer than Python's Unicode tables (`unicodedata`,
`str.isalpha`), where the Rust crates know them. Neither difference is in the engine under test.
"""

from __future__ import annotations

import functools
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from xiaodian import errors
from xiaodian._core import SearchEngine, default_ranking_profile, validate_ranking_profile
from xiaodian.reference import pinyin
from xiaodian.reference.search import SORTS, ReferenceSearchEngine, is_han, osa_distance

pytestmark = pytest.mark.backend_independent  # run in the SQLite pass only

NOW = 1_750_000_000
DAY = 86_400

HAN_WORDS = [
    "羊绒",
    "围巾",
    "女",
    "男士",
    "冬季",
    "保暖",
    "纯棉",
    "手机壳",
    "防摔",
    "中国",
    "农业",
    "发展",
    "银行",
    "纪念币",
    "待处理",
    "订单",
    "贴纸",
    "新款",
    "包邮",
    "连衣裙",
    "牛仔裤",
    "运动鞋",
    "旗舰店",
    "官方",
    "正品",
    "小店",
    "数码",
    "配件",
    "山下有松",
    "手机",
    "壳",
    "款",
    "手机套",
    "保护壳",
    "围脖",
    "仿",
    "类",
    "人造",
    "仿羊绒",
    "羊毛",
    "真皮",
    "沙发",
    "非常",
]

#: Words read alike, or read several ways (羊绒 and 羽绒 are both `yr`; 长 is `chang` and
#: `zhang`, 行 `xing` and `hang`), pinyin-typed words (充电宝, 保温杯), and phrases (羊绒围巾).
SOUND_WORDS = [
    "羽绒",
    "羽绒服",
    "长款",
    "保温杯",
    "充电宝",
    "音乐",
    "重量",
    "温柔",
    "卫衣",
    "大衣",
    "水杯",
    "睡衣",
    "时尚",
    "加厚",
    "羊绒围巾",
    "手机支架",
    "行李箱",
    "银行卡",
]
#: Latin words long enough for typos (five letters or more: one edit; nine or more: two).
TYPO_WORDS = ["samsung", "iphone", "bluetooth", "playstation", "airpods", "adidas", "xiaomi", "huawei"]

#: Synonym groups the generated profiles draw from (围巾 ⇄ 围脖 overlaps words above).
SYNONYMS = [["手机壳", "手机套", "保护壳"], ["围巾", "围脖"], ["纯棉", "全棉"]]
LATIN_WORDS = ["iPhone", "Nike", "Adidas", "Huawei", "Xiaomi", "Pro", "Max", "Air", "T"]
FULL_WIDTH = ["ＩＰｈｏｎｅ", "Ｎｉｋｅ", "ＰＲＯ", "１５", "２０２５"]
DIGITS = ["15", "2025", "128", "3", "0"]
SEPARATORS = ["", "", " ", " ", "\u3000", "  ", "【", "】", "-", ",", "!", "·", "/", "（", "）", "、"]
SHOP_NAMES = ["山下有松", "羊绒小店", "羊绒 小店", "数码配件", "Nike官方旗舰店", "小米 旗舰店", "ＮＩＫＥ 官方", "店"]
BRANDS = ["", "", "Nike", "ＮＩＫＥ", "Apple", "小米", "华为", "山下有松", "羊绒"]
CATEGORIES = ["c0", "c1", "c2"]
# Short ids, ids sharing their first 8 bytes (the Rust engine compares 8-byte prefixes first),
# and multi-byte ids whose 8-byte prefix ends inside a character.
PRODUCT_IDS = [f"p{i:02d}" for i in range(8)] + [f"sku-2025-{i}" for i in range(6)] + ["商品甲一", "商品甲二", "商品乙"]

common_han = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FA5)
word = st.one_of(
    st.sampled_from(HAN_WORDS),
    st.sampled_from(HAN_WORDS),
    st.sampled_from(SOUND_WORDS),
    st.sampled_from(LATIN_WORDS),
    st.sampled_from(TYPO_WORDS),
    st.sampled_from(FULL_WIDTH),
    st.sampled_from(DIGITS),
    common_han,
)


@st.composite
def texts(draw: st.DrawFn, min_words: int = 0, max_words: int = 6) -> str:
    """Words from the vocabulary joined by random separators (often none: longer Han runs)."""
    pieces = draw(st.lists(st.tuples(word, st.sampled_from(SEPARATORS)), min_size=min_words, max_size=max_words))
    return "".join(w + sep for w, sep in pieces)


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@st.composite
def shops(draw: st.DrawFn, shop_id: str) -> dict[str, Any]:
    window = draw(st.sampled_from([0, 30, 89, 90, 91, 400]))
    return {
        "shop_id": shop_id,
        "name": draw(st.one_of(st.sampled_from(SHOP_NAMES), texts(min_words=1, max_words=3))),
        "is_brand": draw(st.booleans()),
        "opened_at_s": NOW - window * DAY + draw(st.sampled_from([0, 0, -1, 1])),
        "experience_score": draw(st.one_of(st.sampled_from([0.0, 4.0, 5.0]), st.floats(0.0, 5.0))),
        "experience_review_count": draw(st.sampled_from([0, 0, 1, 10, 300])),
    }


@st.composite
def products(draw: st.DrawFn, shop_ids: list[str], shop_names: list[str]) -> dict[str, Any]:
    rating_count = draw(st.sampled_from([0, 0, 1, 3, 50]))
    # Titles often name a shop (not always their own), so shop-name queries match many products.
    named = draw(st.one_of(st.just(""), st.sampled_from(shop_names)))
    return {
        "product_id": draw(st.sampled_from(PRODUCT_IDS)),
        "shop_id": draw(st.sampled_from(shop_ids)),
        "title": named + draw(texts(min_words=1)),
        "brand": draw(st.sampled_from(BRANDS)),
        "category_id": draw(st.sampled_from(CATEGORIES)),
        "price_fen": draw(st.one_of(st.sampled_from([100, 100, 990, 5000]), st.integers(1, 10_000))),
        "sales_30d": draw(st.one_of(st.sampled_from([0, 0, 10, 1000]), st.integers(0, 5000))),
        "stock": draw(st.integers(0, 3)),
        "rating_count": rating_count,
        "rating_sum": draw(st.integers(rating_count, 5 * rating_count)),
        "hero_quality": draw(st.one_of(st.just(0.0), st.floats(0.0, 1.0))),
        "dhash": draw(dhashes()),
        "listed_at_s": draw(st.sampled_from([NOW, NOW - DAY, NOW - 100 * DAY])),
    }


def weight(*common: float, high: float = 3.0) -> st.SearchStrategy[float]:
    return st.one_of(st.sampled_from(common), st.floats(0.0, high))


@st.composite
def profiles(draw: st.DrawFn) -> dict[str, Any]:
    profile = default_ranking_profile()
    profile.update(
        bm25_k1=draw(weight(0.0, 1.2, 2.0)),
        bm25_b=draw(weight(0.0, 0.75, 1.0, high=1.0)),
        title_weight=draw(weight(0.0, 1.0, 2.0)),
        shop_name_weight=draw(weight(0.0, 1.0)),
        brand_weight=draw(weight(0.0, 1.5)),
        text_weight=draw(weight(0.0, 1.0)),
        hero_quality_weight=draw(weight(0.0, 0.3)),
        rating_weight=draw(weight(0.0, 0.3)),
        shop_score_weight=draw(weight(0.0, 0.2)),
        sales_weight=draw(weight(0.0, 0.2)),
        rating_prior_count=draw(weight(0.0, 20.0, high=100.0)),
        rating_prior_mean=draw(st.floats(1.0, 5.0)),
        shop_score_prior_count=draw(weight(0.0, 50.0, high=100.0)),
        shop_score_prior_mean=draw(st.floats(0.0, 5.0)),
        brand_multiplier=draw(weight(1.0, 2.0, high=5.0)),
        new_merchant_multiplier=draw(weight(1.0, 1.2, high=5.0)),
        new_merchant_window_days=draw(st.sampled_from([0, 30, 90, 3650])),
        rerank_depth=draw(st.one_of(st.integers(1, 5), st.just(1000))),
        synonyms=draw(st.sampled_from([[], SYNONYMS[:1], SYNONYMS])),
        synonym_weight=draw(st.sampled_from([0.5, 0.8, 0.999])),
        approximate_weight=draw(st.one_of(st.sampled_from([0.7, 0.3, 0.999]), st.floats(0.01, 0.99))),
    )
    if profile["title_weight"] == profile["shop_name_weight"] == profile["brand_weight"] == 0.0:
        profile["title_weight"] = 1.0
    validate_ranking_profile(profile)
    return profile


@functools.cache
def same_sounding() -> dict[str, list[str]]:
    """Each syllable's characters (U+4E00-U+9FA5) read so first, at most 40 of them."""
    found: dict[str, list[str]] = {}
    for code in range(0x4E00, 0x9FA6):
        readings = pinyin.readings(chr(code))
        if readings and len(found.setdefault(readings[0], [])) < 40:
            found[readings[0]].append(chr(code))
    return found


@st.composite
def typed(draw: st.DrawFn, han: list[str], latin: list[str]) -> str:
    """One word as a shopper may type it: the pinyin of Han words (any reading, syllables
    spaced or not), their initials, the words with a character swapped for one read alike,
    the words themselves, or a Latin word with a typo or two."""
    kind = draw(st.sampled_from(["pinyin", "pinyin", "pinyin", "initials", "initials", "same", "han", "typo", "latin"]))
    if kind in ("typo", "latin"):
        text = list(draw(st.sampled_from(latin)).lower())
        for _ in range(draw(st.sampled_from([1, 1, 2])) if kind == "typo" else 0):
            at = draw(st.integers(0, max(len(text) - 1, 0)))
            edit = draw(st.sampled_from(["substitute", "delete", "insert", "transpose"]))
            letter = draw(st.sampled_from("abcdefghijklmnopqrstuvwxyz"))
            if edit == "substitute" and text:
                text[at] = letter
            elif edit == "delete" and len(text) > 1:
                del text[at]
            elif edit == "insert":
                text.insert(at, letter)
            elif edit == "transpose" and at + 1 < len(text):
                text[at], text[at + 1] = text[at + 1], text[at]
        return "".join(text)
    words = "".join(draw(st.lists(st.sampled_from(han), min_size=1, max_size=2)))
    if kind == "han":
        return words
    if kind == "same":
        at = draw(st.integers(0, len(words) - 1))
        readings = pinyin.readings(words[at])
        if not readings:
            return words
        alike = same_sounding().get(draw(st.sampled_from(readings)), [words[at]])
        return words[:at] + draw(st.sampled_from(alike)) + words[at + 1 :]
    syllables = [draw(st.sampled_from(pinyin.readings(c))) for c in words if pinyin.readings(c)]
    if kind == "initials":
        return "".join(pinyin.initial(s) for s in syllables)
    return "".join(s + draw(st.sampled_from(["", "", " "])) for s in syllables).strip()


@st.composite
def approximate_queries(draw: st.DrawFn, catalog_tokens: list[str]) -> str:
    """One to three typed words (`typed`) of the catalog's Han and Latin tokens, spaced or
    not (mixed script), sometimes with a token as it is."""
    han = [t for t in catalog_tokens if all(is_han(c) for c in t)] or HAN_WORDS
    latin = [t for t in catalog_tokens if t.isascii() and t.isalpha()] or TYPO_WORDS
    parts = draw(
        st.lists(st.one_of(typed(han, latin), typed(han, latin), st.sampled_from(han)), min_size=1, max_size=3)
    )
    return "".join(part + draw(st.sampled_from(["", " ", " "])) for part in parts)[:100]


@st.composite
def queries(draw: st.DrawFn, catalog_tokens: list[str], shop_names: list[str]) -> str:
    """Mostly words of the catalog (so that there are matches), as typed or approximately,
    also shop names and noise."""
    kind = draw(
        st.sampled_from(["tokens", "tokens", "tokens", "approximate", "approximate", "words", "shop", "text", "blank"])
    )
    if kind == "approximate":
        return str(draw(approximate_queries(catalog_tokens)))
    if kind == "tokens" and catalog_tokens:
        words = draw(st.lists(st.sampled_from(catalog_tokens), min_size=1, max_size=3))
        return str(draw(st.sampled_from([" ", "", "\u3000", "-"])).join(words))
    if kind == "shop" and shop_names:
        name = draw(st.sampled_from(shop_names))
        variant = draw(st.sampled_from(["as is", "spaced", "full width", "upper"]))
        if variant == "spaced":
            return " " + name.replace(" ", " \u3000 ") + "  "
        if variant == "full width":
            return full_width(name)
        return name.upper() if variant == "upper" else name
    if kind == "blank":
        return str(draw(st.sampled_from(["", " ", "\u3000", " \t ", "【】", "!", " - "])))  # last: no token
    if kind == "words":
        return str(draw(st.sampled_from([" ", ""])).join(draw(st.lists(word, min_size=1, max_size=3))))
    return str(draw(texts()))


@st.composite
def requests(draw: st.DrawFn, catalog_tokens: list[str], shop_names: list[str], shop_ids: list[str]) -> dict[str, Any]:
    prices = sorted(draw(st.lists(st.sampled_from([1, 100, 990, 2000, 10_000]), min_size=2, max_size=2)))
    filters = draw(
        st.one_of(
            st.just(set()),
            st.just(set()),
            st.sets(st.sampled_from(["category", "shop", "min", "max", "stock"]), min_size=1, max_size=3),
        )
    )
    return {
        "query": draw(queries(catalog_tokens, shop_names)),
        "category_ids": draw(st.lists(st.sampled_from([*CATEGORIES, "c9"]), min_size=1, max_size=2))
        if "category" in filters
        else [],
        "shop_ids": draw(st.lists(st.sampled_from([*shop_ids, "nope"]), min_size=1, max_size=2))
        if "shop" in filters
        else [],
        "min_price_fen": prices[0] if "min" in filters else None,
        "max_price_fen": prices[1] if "max" in filters else None,
        "in_stock_only": "stock" in filters,
        "sort": draw(st.sampled_from([*SORTS, "relevance", "relevance", "relevance"])),
        "page_size": draw(st.one_of(st.integers(1, 6), st.just(100))),
        "page": draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3])),
        "max_per_shop": draw(st.sampled_from([0, 0, 1, 2, 3])),
        "keep_duplicates": draw(st.sampled_from([False, False, True])),
        "explain": draw(st.sampled_from([True, True, True, False])),
        "now_s": NOW,
    }


#: A few photos: products share one (a copied white-label listing) or differ from it in a few
#: bits, so near-duplicate collapsing has work to do; None is a product without hero image.
PHOTOS = (0x0F0F_0F0F_0F0F_0F0F, 0xFFFF_0000_FFFF_0000, 0x1234_5678_9ABC_DEF0)


@st.composite
def dhashes(draw: st.DrawFn) -> int | None:
    kind = draw(st.sampled_from(["none", "photo", "photo", "random"]))
    if kind == "none":
        return None
    if kind == "random":
        return draw(st.integers(0, 2**64 - 1))
    flipped = draw(st.lists(st.integers(0, 63), max_size=8))
    photo = draw(st.sampled_from(PHOTOS))
    for bit in flipped:
        photo ^= 1 << bit
    return photo


def close(a: float, b: float) -> bool:
    """Equal to the last bit (scores are never NaN, and never -0.0)."""
    return a == b


def assert_same(rust: dict[str, Any], reference: dict[str, Any]) -> None:
    """The Rust result equals the reference result, every number to the last bit."""
    assert [h["product_id"] for h in rust["hits"]] == [h["product_id"] for h in reference["hits"]]
    for key in (
        "total_matched",
        "first_tier_matched",
        "second_tier_matched",
        "second_tier_searched",
        "has_more",
        "collapsed_duplicates",
    ):
        assert rust[key] == reference[key], key
    for r, p in zip(rust["hits"], reference["hits"], strict=True):
        context = r["product_id"]
        for key in ("shop_id", "title", "shop_name", "brand", "price_fen", "sales_30d", "tier", "collapsed_duplicates"):
            assert r[key] == p[key], (context, key)
        assert close(r["rating"], p["rating"]), (context, r["rating"], p["rating"])
        assert close(r["score"], p["score"]), (context, r["score"], p["score"])
        if r["explanation"] is None or p["explanation"] is None:
            assert r["explanation"] is p["explanation"] is None, context
            continue
        re, pe = r["explanation"], p["explanation"]
        assert close(re["first_phase_score"], pe["first_phase_score"]), (context, re, pe)
        assert re["matched_terms"] == pe["matched_terms"], context
        assert re["tier"] == pe["tier"], context
        assert re["matched_synonyms"] == pe["matched_synonyms"], context
        assert re["negated_words"] == pe["negated_words"], context
        assert re["approximate_matches"] == pe["approximate_matches"], context
        assert [s["signal"] for s in re["signals"]] == [s["signal"] for s in pe["signals"]], context
        for rs, ps in zip(re["signals"], pe["signals"], strict=True):
            for key in ("value", "weight", "contribution"):
                assert close(rs[key], ps[key]), (context, rs, ps)


class Pair:
    """The Rust engine and the reference, written to together and compared on every read."""

    def __init__(self, analysis: str) -> None:
        self.rust = SearchEngine(analysis)
        self.reference = ReferenceSearchEngine(analysis)

    def check_counts(self) -> None:
        assert self.rust.product_count() == self.reference.product_count()
        assert self.rust.shop_count() == self.reference.shop_count()

    def upsert_shops(self, shops: list[dict[str, Any]]) -> None:
        self.rust.upsert_shops(shops)
        self.reference.upsert_shops(shops)
        self.check_counts()

    def upsert_products(self, products: list[dict[str, Any]]) -> None:
        outcomes = []
        for engine in (self.rust, self.reference):
            try:
                engine.upsert_products(products)
                outcomes.append(None)
            except errors.FailedPrecondition as error:
                outcomes.append(str(error))
        assert outcomes[0] == outcomes[1]
        self.check_counts()

    def delete_products(self, product_ids: list[str]) -> None:
        assert self.rust.delete_products(product_ids) == self.reference.delete_products(product_ids)
        self.check_counts()

    def search(self, profile: dict[str, Any], request: dict[str, Any]) -> dict[str, Any] | None:
        """Both engines' result, compared; None when both refuse the request with the same
        violations (say, a blank query without a category or shop filter)."""
        try:
            rust = self.rust.search(profile, request)
        except errors.InvalidArgument as refused:
            with pytest.raises(errors.InvalidArgument) as also:
                self.reference.search(profile, request)
            assert also.value.violations == refused.violations
            return None
        reference = self.reference.search(profile, request)
        assert_same(rust, reference)
        return rust


def shop_record(shop_id: str, name: str, **fields: Any) -> dict[str, Any]:
    defaults = {"is_brand": False, "opened_at_s": 0, "experience_score": 4.0, "experience_review_count": 0}
    return {"shop_id": shop_id, "name": name, **defaults, **fields}


def product_record(product_id: str, shop_id: str, title: str, **fields: Any) -> dict[str, Any]:
    defaults = {
        "brand": "",
        "category_id": "c0",
        "price_fen": 100,
        "sales_30d": 0,
        "stock": 1,
        "rating_sum": 0,
        "rating_count": 0,
        "hero_quality": 0.0,
        "dhash": None,
        "listed_at_s": 0,
    }
    return {"product_id": product_id, "shop_id": shop_id, "title": title, **defaults, **fields}


def search_request(query: str, **fields: Any) -> dict[str, Any]:
    defaults = {
        "category_ids": [],
        "shop_ids": [],
        "min_price_fen": None,
        "max_price_fen": None,
        "in_stock_only": False,
        "sort": "relevance",
        "page_size": 10,
        "page": 0,
        "max_per_shop": 0,
        "keep_duplicates": False,
        "explain": True,
        "now_s": NOW,
    }
    return {"query": query, **defaults, **fields}


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data(), analysis=st.sampled_from(["full", "bigrams"]))
def test_search_agrees_with_the_reference(data: st.DataObject, analysis: str) -> None:
    """Random shops, product batches (replacements, refused batches), deletes, renames and new
    shops, then random searches with random profiles, filters, sorts, pages and shop caps."""
    pair = Pair(analysis)
    shop_ids = [f"s{i}" for i in range(data.draw(st.integers(1, 4), label="shops"))]
    shop_names: list[str] = []
    titles: list[str] = []
    initial = [data.draw(shops(shop_id)) for shop_id in shop_ids]
    shop_names.extend(s["name"] for s in initial)
    pair.upsert_shops(initial)
    operations = data.draw(
        st.lists(st.sampled_from(["products", "products", "products", "delete", "shop"]), min_size=1, max_size=6),
        label="operations",
    )
    for i, operation in enumerate(["products", *operations]):
        if operation == "products":
            batch = data.draw(st.lists(products(shop_ids, shop_names), min_size=4 if i == 0 else 1, max_size=12))
            if i > 0 and data.draw(st.integers(0, 9)) == 9:
                batch[-1] = {**batch[-1], "shop_id": "unknown"}  # refused, nothing written
            titles.extend(p["title"] for p in batch)
            pair.upsert_products(batch)
        elif operation == "delete":
            pair.delete_products(data.draw(st.lists(st.sampled_from([*PRODUCT_IDS, "nope"]), max_size=4)))
        else:  # rename or change a shop, or open a new one
            shop_id = data.draw(st.sampled_from([*shop_ids, f"s{len(shop_ids)}"]))
            if shop_id not in shop_ids:
                shop_ids.append(shop_id)
            shop = data.draw(shops(shop_id))
            shop_names.append(shop["name"])
            pair.upsert_shops([shop])
    catalog_tokens = sorted({token for text in titles + shop_names for token in pair.rust.tokens(text)})
    for _ in range(data.draw(st.integers(2, 10), label="searches")):
        pair.search(data.draw(profiles()), data.draw(requests(catalog_tokens, shop_names, shop_ids)))


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data(), analysis=st.sampled_from(["full", "full", "full", "bigrams"]))
def test_approximate_queries_agree(data: st.DataObject, analysis: str) -> None:
    """Approximate matching: titles of words read alike (羊绒, 羽绒), read several ways and
    long enough for typos, then queries typed approximately from those words (`typed`), some
    after deletes (a word or phrase whose last product is gone no longer matches)."""
    pair = Pair(analysis)
    shop_ids = ["s0", "s1", "s2"]
    pair.upsert_shops([shop_record(shop_id, name) for shop_id, name in zip(shop_ids, SHOP_NAMES, strict=False)])
    han = data.draw(st.lists(st.sampled_from(SOUND_WORDS + HAN_WORDS), min_size=2, max_size=8, unique=True))
    latin = data.draw(st.lists(st.sampled_from(TYPO_WORDS + TYPO_WORDS + LATIN_WORDS), min_size=1, max_size=4))
    title = st.lists(st.sampled_from(han + latin), min_size=1, max_size=4).flatmap(
        lambda words: st.tuples(*(st.sampled_from(["", " ", " ", "·"]) for _ in words)).map(
            lambda separators: "".join(w + sep for w, sep in zip(words, separators, strict=True))
        )
    )
    catalog = [
        {**product, "product_id": f"p{i:02d}", "title": data.draw(title)}
        for i, product in enumerate(data.draw(st.lists(products(shop_ids, SHOP_NAMES), min_size=2, max_size=14)))
    ]
    pair.upsert_products(catalog)
    for _ in range(data.draw(st.integers(1, 6), label="searches")):
        if data.draw(st.integers(0, 4)) == 0:
            pair.delete_products(data.draw(st.lists(st.sampled_from([p["product_id"] for p in catalog]), max_size=3)))
        query = data.draw(st.one_of(typed(han, latin), approximate_queries(han + [w.lower() for w in latin])))
        profile = data.draw(st.one_of(st.just(default_ranking_profile()), profiles()))
        request = search_request(
            query,
            sort=data.draw(st.sampled_from(["relevance", "relevance", "sales"])),
            page_size=data.draw(st.sampled_from([3, 10])),
            keep_duplicates=data.draw(st.booleans()),
        )
        pair.search(profile, request)


TYPED_QUERIES = [
    "yangrong",
    "yang rong",
    "yangrongweijin",
    "yangrong weijin",
    "yang rong wei jin",
    "yu ronglei",
    "羊绒weijin",
    "YangRong",
    "ｙａｎｇｒｏｎｇ",
    "baowenbei",
    "yrwj",
    "yr",
    "bwb",
    "ydxlx",
    "yd xlx",
    "洋绒围巾",
    "羊绒围金",
    "羊绒 weijn",
    "samsnug",
    "iphnoe 15",
    "iphonexx",
    "iphone17",
    "tiansi",
    "changkuan",
    "zhangkuan",
    "ck",
    "zk",
    "yinhang xinglixiang",
    "羊绒围巾",
    "iphone15",
]


def test_typed_queries_on_a_fixed_catalog_agree() -> None:
    """What shoppers type, on a catalog made for it: full pinyin spaced or not (a space beside
    a word of two or more syllables is kept), case and width, mixed script, initials (ydxlx:
    of the covers 运动鞋 凉鞋 and 运动 行李箱, the one whose pieces some product has together),
    same sound, typos (never of digits), a heteronym (长款 is changkuan and zhangkuan), a
    title phrase of two one-character words (天丝), and words the catalog has as typed."""
    pair = Pair("full")
    pair.upsert_shops([shop_record("s1", "山下有松"), shop_record("s2", "数码配件")])
    titles = [
        "羊绒围巾女 冬季加厚",
        "羽绒服男 冬季",
        "羊绒大衣 长款",
        "保温杯 316不锈钢",
        "iPhone15 手机壳",
        "iPhone16 手机壳",
        "电视机 遥控器",
        "运动鞋",
        "运动鞋 男",
        "凉鞋",
        "凉鞋 女",
        "运动 行李箱",
        "天丝 睡衣",
        "银行卡套",
    ]
    pair.upsert_products(
        [
            product_record(f"p{i:02d}", f"s{i % 2 + 1}", title, brand="Samsung" if "电视" in title else "", sales_30d=i)
            for i, title in enumerate(titles)
        ]
    )
    matched: set[str] = set()
    for query in TYPED_QUERIES:
        for profile in (default_ranking_profile(), {**default_ranking_profile(), "approximate_weight": 0.2}):
            result = pair.search(profile, search_request(query, page_size=20))
            assert result is not None
            for hit in result["hits"]:
                matched.update(kind for _, _, kind in hit["explanation"]["approximate_matches"])
    assert matched == {"pinyin", "initials", "same_sound", "typo"}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    words=st.lists(st.text(alphabet="abcs", min_size=3, max_size=11), min_size=1, max_size=12),
    data=st.data(),
)
def test_latin_typos_agree(words: list[str], data: st.DataObject) -> None:
    """Typos: Latin words of few letters (so that many are a few edits apart), and queries a
    word with random edits, with transpositions of neighbours (one edit each, as in the
    optimal string alignment distance the Rust automata compute) and words of 4, 5, 8 and 9
    letters around the limits of one and two typos (bigrams analysis: typos need no jieba)."""
    pair = Pair("bigrams")
    pair.upsert_shops([shop_record("s", "店")])
    pair.upsert_products([product_record(f"p{i:02d}", "s", w) for i, w in enumerate(words)])
    query = list(data.draw(st.sampled_from(words)))
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(query) - 1))
        edit = data.draw(st.sampled_from(["substitute", "delete", "insert", "transpose", "transpose"]))
        if edit == "substitute":
            query[at] = data.draw(st.sampled_from("abcs"))
        elif edit == "delete" and len(query) > 1:
            del query[at]
        elif edit == "insert":
            query.insert(at, data.draw(st.sampled_from("abcs")))
        elif edit == "transpose" and at + 1 < len(query):
            query[at], query[at + 1] = query[at + 1], query[at]
    pair.search(default_ranking_profile(), search_request("".join(query), page_size=20))


def test_a_transposition_and_an_edit_between_its_letters_are_three_edits() -> None:
    """`ca` to `abc` is two edits when a transposed pair may then be edited between its
    letters (Damerau-Levenshtein), three when it may not (optimal string alignment): the
    engine finds no typo of nine letters at three edits."""
    pair = Pair("full")
    pair.upsert_shops([shop_record("s", "店")])
    pair.upsert_products([product_record("a", "s", "abcdefgabc"), product_record("b", "s", "abcdefgxyz")])
    assert osa_distance("abcdefgca", "abcdefgabc", 5) == 3
    assert pair.search(default_ranking_profile(), search_request("abcdefgca"))["hits"] == []
    found = pair.search(default_ranking_profile(), search_request("abcdefgac"))["hits"]
    assert [h["explanation"]["approximate_matches"] for h in found] == [[("abcdefgac", "abcdefgabc", "typo")]]


@settings(max_examples=300, deadline=None)
@given(a=st.text(alphabet="abc", max_size=9), b=st.text(alphabet="abc", max_size=9), bound=st.integers(0, 3))
def test_the_bounded_distance_is_the_distance_up_to_its_bound(a: str, b: str, bound: int) -> None:
    assert osa_distance(a, b, bound) == min(osa_distance(a, b, 20), bound + 1)
    assert osa_distance(a, b, 20) == osa_distance(b, a, 20)


def test_a_dead_products_title_phrase_is_not_matched() -> None:
    """天丝 is a title phrase of 天丝 (天 丝, two one-character words) and a mere bigram of 天丝丝
    (天 丝丝), and no dictionary word: once the first product is gone, `tiansi` has no phrase to
    match, though Rust keeps the phrase's keys until it compacts."""
    pair = Pair("full")
    pair.upsert_shops([shop_record("s", "店")])
    pair.upsert_products([product_record("a", "s", "天丝"), product_record("b", "s", "天丝丝")])
    assert len(pair.search(default_ranking_profile(), search_request("tiansi"))["hits"]) == 2
    pair.delete_products(["a"])
    assert pair.search(default_ranking_profile(), search_request("tiansi"))["hits"] == []


SHOP_WORDS = ["羊绒", "小店", "数码", "配件", "Nike", "官方", "围巾", "袜子"]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data(), analysis=st.sampled_from(["full", "bigrams"]))
def test_shop_name_queries_agree(data: st.DataObject, analysis: str) -> None:
    """The exact-shop tier: few shop names (some folding to the same name), titles made of their
    words so that many products match, small pages and re-rank depths, renames (which also move
    a shop's products to the end of the Rust document order)."""
    pair = Pair(analysis)
    names = ["羊绒小店", "羊绒 小店", "ＮＩＫＥ官方", "nike 官方", "数码配件", "小店"]
    shop_ids = [f"s{i}" for i in range(data.draw(st.integers(2, 4)))]
    pair.upsert_shops(
        [{**data.draw(shops(shop_id)), "name": data.draw(st.sampled_from(names))} for shop_id in shop_ids]
    )
    title = st.lists(st.sampled_from(SHOP_WORDS), min_size=1, max_size=4).map(" ".join)
    pair.upsert_products(
        [
            {**product, "product_id": f"p{i:02d}", "title": data.draw(title)}
            for i, product in enumerate(data.draw(st.lists(products(shop_ids, names), min_size=6, max_size=20)))
        ]
    )
    for _ in range(data.draw(st.integers(0, 2), label="renames")):
        shop_id = data.draw(st.sampled_from(shop_ids))
        pair.upsert_shops([{**data.draw(shops(shop_id)), "name": data.draw(st.sampled_from(names))}])
    for _ in range(data.draw(st.integers(1, 6), label="searches")):
        profile = {**data.draw(profiles()), "rerank_depth": data.draw(st.integers(1, 3))}
        request = search_request(
            data.draw(st.sampled_from(names)),
            sort=data.draw(st.sampled_from(["relevance", "relevance", "sales"])),
            page_size=data.draw(st.integers(1, 3)),
            page=data.draw(st.integers(0, 2)),
            max_per_shop=data.draw(st.integers(0, 2)),
        )
        pair.search(profile, request)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data(), seed=st.integers(0, 2**32 - 1), size=st.integers(40, 400))
def test_larger_catalogs_agree(data: st.DataObject, seed: int, size: int) -> None:
    """Catalogs of hundreds of products (postings lists longer than the Rust engine's blocks of
    32, common terms and rare ones), built from a seed for speed, with replacements and
    deletes; the searches are drawn as in the test above."""
    rng = random.Random(seed)
    pair = Pair(rng.choice(["full", "bigrams"]))
    shop_ids = [f"s{i}" for i in range(rng.randint(2, 6))]
    shop_names = [rng.choice(SHOP_NAMES) for _ in shop_ids]
    pair.upsert_shops(
        [
            shop_record(
                shop_id,
                name,
                is_brand=rng.random() < 0.3,
                opened_at_s=NOW - rng.choice([10, 100]) * DAY,
                experience_score=rng.uniform(0.0, 5.0),
                experience_review_count=rng.choice([0, 5, 100]),
            )
            for shop_id, name in zip(shop_ids, shop_names, strict=True)
        ]
    )
    vocabulary = HAN_WORDS + SOUND_WORDS + LATIN_WORDS + TYPO_WORDS + FULL_WIDTH + DIGITS

    def product(i: int) -> dict[str, Any]:
        words = rng.choices(vocabulary, k=rng.randint(1, 8))
        rating_count = rng.choice([0, 0, 2, 40])
        return product_record(
            f"sku-{i:05d}" if i % 3 else f"p{i}",
            rng.choice(shop_ids),
            "".join(w + rng.choice(SEPARATORS) for w in words),
            brand=rng.choice(BRANDS),
            category_id=rng.choice(CATEGORIES),
            price_fen=rng.choice([100, 990, rng.randint(1, 10_000)]),
            sales_30d=rng.choice([0, 10, rng.randint(0, 5000)]),
            stock=rng.randint(0, 3),
            rating_sum=rng.randint(rating_count, 5 * rating_count),
            rating_count=rating_count,
            hero_quality=rng.random(),
            listed_at_s=NOW - rng.randint(0, 200) * DAY,
        )

    catalog = [product(i) for i in range(size)]
    for start in range(0, size, 97):
        pair.upsert_products(catalog[start : start + 97])
    pair.upsert_products([product(rng.randrange(size)) for _ in range(size // 5)])
    pair.delete_products([catalog[rng.randrange(size)]["product_id"] for _ in range(size // 10)])
    titles = [p["title"] for p in catalog]
    catalog_tokens = sorted({token for text in titles + shop_names for token in pair.rust.tokens(text)})
    for _ in range(10):
        pair.search(data.draw(profiles()), data.draw(requests(catalog_tokens, shop_names, shop_ids)))


def test_exact_shop_tier_paging_and_fallback_on_a_fixed_catalog() -> None:
    pair = Pair("full")
    names = ["山下有松", "羊绒小店", "羊绒  小店", "数码配件"]
    pair.upsert_shops(
        [
            shop_record(f"s{i}", name, is_brand=i == 1, opened_at_s=NOW - i * 40 * DAY, experience_review_count=10)
            for i, name in enumerate(names)
        ]
    )
    titles = [
        "山下有松 羊绒围巾女 2025新款",
        "羊绒围巾 男士 冬季保暖",
        "纯棉围巾",
        "iPhone15手机壳 防摔",
        "待处理 订单 贴纸",
    ]
    pair.upsert_products(
        [
            product_record(
                PRODUCT_IDS[i % len(PRODUCT_IDS)] + f"-{i}",
                f"s{i % 4}",
                titles[i % len(titles)],
                brand=BRANDS[i % len(BRANDS)],
                category_id=CATEGORIES[i % 3],
                price_fen=100 * (i % 7 + 1),
                sales_30d=10 * (i % 5),
                stock=i % 3,
                rating_sum=4 * (i % 4),
                rating_count=i % 4,
                hero_quality=(i % 10) / 10,
                listed_at_s=NOW - i * DAY,
            )
            for i in range(40)
        ]
    )
    profile = {**default_ranking_profile(), "rerank_depth": 3}
    for query in ["羊绒 小店", "羊绒小店", "羊绒围巾", "羊绒 纯棉", "iphone", "", "贴纸 新款"]:
        scope = {} if query else {"shop_ids": ["s1", "s2"]}  # browsing needs a scope
        for sort in SORTS:
            for page in range(4):
                request = search_request(query, sort=sort, page_size=4, page=page, max_per_shop=2, **scope)
                assert pair.search(profile, request) is not None
    exact = pair.search(profile, search_request("羊绒 小店", page_size=20))
    assert {h["shop_id"] for h in exact["hits"]} == {"s1", "s2"}
    assert exact["hits"][0]["explanation"]["signals"][-1]["signal"] == "exact_shop_match"


def test_saturated_field_lengths_and_term_frequencies() -> None:
    pair = Pair("full")
    pair.upsert_shops([shop_record("s", "羊" * 300)])
    long_titles = ["羊" * 300, "羊绒" * 200, "羊羊 " * 300, "围巾"]
    pair.upsert_products(
        [product_record(f"p{i}", "s", title, brand="羊羊" * 130) for i, title in enumerate(long_titles)]
    )
    for query in ["羊羊", "羊绒", "围巾 羊", "绒羊"]:
        assert pair.search(default_ranking_profile(), search_request(query))["total_matched"] >= 1


def test_weights_that_underflow_with_k1_zero_score_nothing() -> None:
    """k1 = 0 and a title weight so small that w / norm rounds to 0: the term adds 0 (not
    0 / 0, which was an error in the reference and NaN in Rust)."""
    pair = Pair("full")
    pair.upsert_shops([shop_record("s", "小店")])
    long_title = "羊绒围巾 女士 冬季 加厚 保暖 长款 流苏"
    shorts = [product_record(f"short{i}", "s", "羊绒 毛衣") for i in range(3)]
    pair.upsert_products([product_record("long", "s", long_title), *shorts])
    profile = {**default_ranking_profile(), "bm25_k1": 0.0, "bm25_b": 1.0, "title_weight": 5e-324}
    result = pair.search(profile, search_request("羊绒"))
    scores = {h["product_id"]: h["explanation"]["first_phase_score"] for h in result["hits"]}
    assert scores["long"] == 0.0 < scores["short0"]


def test_compaction_windows_and_renames_do_not_change_results() -> None:
    """Over 4,096 documents (two retrieval windows in Rust), then enough dead documents to make
    the Rust index renumber itself (4,096 dead > live), then a rename."""
    rng = random.Random(7)
    pair = Pair("bigrams")
    pair.upsert_shops(
        [
            shop_record(f"s{i}", SHOP_NAMES[i], is_brand=i == 0, opened_at_s=NOW, experience_score=3.0 + i / 2)
            for i in range(3)
        ]
    )

    def product(i: int) -> dict[str, Any]:
        return product_record(
            f"p{i:04d}",
            f"s{i % 3}",
            "".join(rng.choice(HAN_WORDS) for _ in range(3)) + rng.choice(LATIN_WORDS),
            brand=rng.choice(BRANDS),
            category_id=rng.choice(CATEGORIES),
            price_fen=rng.randint(1, 500),
            sales_30d=rng.randint(0, 100),
            stock=rng.randint(0, 2),
            hero_quality=rng.random(),
        )

    profile = {**default_ranking_profile(), "rerank_depth": 5}
    queries = ["羊绒围巾", "专卖", "手机壳 iPhone", "", "新款 连衣裙 nike", "山下有松 官方"]
    pair.upsert_products([product(i) for i in range(2100)])
    pair.upsert_products([product(i) for i in range(2100)])
    for query in queries:
        pair.search(profile, search_request(query, page_size=7, max_per_shop=3))
    pair.delete_products([f"p{i:04d}" for i in range(2000)])
    pair.upsert_shops([shop_record("s1", "羊绒围巾专卖", is_brand=True, experience_score=5.0)])
    for query in queries:
        for sort in ("relevance", "price_ascending", "rating"):
            for page in (0, 2):
                pair.search(profile, search_request(query, sort=sort, page=page, page_size=7, max_per_shop=3))


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_dense_terms_over_several_windows_agree(seed: int) -> None:
    """Over 9,000 products (three of the Rust engine's retrieval windows) from a small
    vocabulary, so that many terms are dense (in 1/32 of the catalog or more: counted and
    intersected by bitset) beside sparse ones; two-word queries from unrelated titles mostly
    fall back to any term, at the default re-rank depth (1,000) where the top-k threshold
    decides which terms are essential; then again with dead documents, and with filters."""
    rng = random.Random(seed)
    pair = Pair(rng.choice(["full", "bigrams"]))
    shop_ids = [f"s{i}" for i in range(4)]
    pair.upsert_shops([shop_record(s, SHOP_NAMES[i], is_brand=i == 0) for i, s in enumerate(shop_ids)])
    common, rare = HAN_WORDS[:6], HAN_WORDS[6:] + LATIN_WORDS

    def product(i: int) -> dict[str, Any]:
        words = rng.choices(common, k=rng.randint(0, 2)) + rng.choices(rare, k=rng.randint(1, 3))
        return product_record(
            f"p{i:05d}",
            rng.choice(shop_ids),
            " ".join(words) + " 商品",
            brand=rng.choice(BRANDS),
            category_id=rng.choice(CATEGORIES),
            price_fen=rng.randint(1, 10_000),
            sales_30d=rng.randint(0, 5000),
            stock=rng.randint(0, 2),
            hero_quality=rng.random(),
        )

    size = 9_000
    catalog = [product(i) for i in range(size)]
    for start in range(0, size, 3_000):
        pair.upsert_products(catalog[start : start + 3_000])
    words = common + rare
    profile = default_ranking_profile()
    queries = [f"{rng.choice(words)} {rng.choice(words)}" for _ in range(6)]
    queries += [rng.choice(common), rng.choice(catalog)["title"]]
    for query in queries:
        pair.search(profile, search_request(query, page_size=10))
    pair.delete_products([f"p{rng.randrange(size):05d}" for _ in range(300)])
    pair.upsert_products([product(rng.randrange(size)) for _ in range(100)])
    for query in queries[:4]:
        pair.search(profile, search_request(query, page_size=10))
        pair.search(profile, search_request(query, page_size=5, page=1, category_ids=["c1"], in_stock_only=True))


def test_an_exact_shop_match_after_the_top_k_threshold_is_kept() -> None:
    """Regression (found by this file): six strong matches of another shop fill the Rust
    `top`'s buffer (2k + 2 with k = 2) and set its threshold; the exact-shop product, indexed
    after them with a lower first phase, must still rank first, as exact-shop matches come
    before all others. The engine used to reject it on the score alone."""
    pair = Pair("full")
    pair.upsert_shops([shop_record("a", "羊绒小店"), shop_record("b", "杂货铺")])
    pair.upsert_products(
        [product_record(f"b{i}", "b", "羊绒小店 羊绒小店") for i in range(6)] + [product_record("a1", "a", "袜子")]
    )
    profile = {**default_ranking_profile(), "rerank_depth": 1}
    request = search_request("羊绒小店", page_size=1)
    assert [h["product_id"] for h in pair.reference.search(profile, request)["hits"]] == ["a1"]
    pair.search(profile, request)


@pytest.mark.parametrize(
    "change",
    [
        {"page_size": 0},
        {"page_size": 101},
        {"min_price_fen": 200, "max_price_fen": 100},
        {"page_size": 0, "min_price_fen": 2, "max_price_fen": 1},
        {"sort": "best"},
        {"sort": "best", "page_size": 0},
    ],
)
def test_invalid_requests_fail_alike(change: dict[str, Any]) -> None:
    request = {**search_request("羊绒"), **change}
    failures = []
    for engine in (SearchEngine(), ReferenceSearchEngine()):
        with pytest.raises(errors.InvalidArgument) as caught:
            engine.search(default_ranking_profile(), request)
        failures.append((str(caught.value), caught.value.violations))
    assert failures[0] == failures[1]


ENGINES = {analysis: (SearchEngine(analysis), ReferenceSearchEngine(analysis)) for analysis in ("full", "bigrams")}

analysis_texts = st.one_of(
    texts(max_words=8),
    st.text(alphabet=common_han, max_size=24),
    st.text(alphabet=st.one_of(common_han, st.sampled_from("aZ9０Ａｚ  \u3000-!·【】")), max_size=24),
    st.lists(st.sampled_from(HAN_WORDS), max_size=6).map("".join),
)


@settings(max_examples=1000, deadline=None)
@given(text=analysis_texts, analysis=st.sampled_from(["full", "bigrams"]))
def test_tokens_and_query_terms_agree(text: str, analysis: str) -> None:
    rust, reference = ENGINES[analysis]
    assert rust.tokens(text) == reference.tokens(text)
    assert rust.query_terms(text) == reference.query_terms(text)
    assert rust.query_words(text) == reference.query_words(text)
    assert rust.query_words(text, SYNONYMS) == reference.query_words(text, SYNONYMS)


def test_five_copies_of_one_photo_from_five_shops_show_once() -> None:
    """The white-label case: the same photo (or one a few bits off) from five shops collapses
    into the best-ranked copy; `keep_duplicates` shows all five; pages stay consistent."""
    pair = Pair("full")
    pair.upsert_shops([shop_record(f"s{i}", f"店铺{i}") for i in range(6)])
    photo = PHOTOS[0]
    copies = [
        product_record(f"copy{i}", f"s{i}", "羊绒围巾 白牌同款", sales_30d=10 * i, dhash=photo ^ (1 << i))
        for i in range(5)
    ]
    other = product_record("other", "s5", "羊绒围巾 原创设计", dhash=PHOTOS[1])
    pair.upsert_products([*copies, other])
    profile = default_ranking_profile()
    result = pair.search(profile, search_request("羊绒围巾", page_size=10))
    ids = [h["product_id"] for h in result["hits"]]
    assert len(ids) == 2 and "other" in ids
    kept = next(h for h in result["hits"] if h["product_id"] != "other")
    assert (kept["collapsed_duplicates"], result["collapsed_duplicates"]) == (4, 4)
    everything = pair.search(profile, search_request("羊绒围巾", page_size=10, keep_duplicates=True))
    assert len(everything["hits"]) == 6 and everything["collapsed_duplicates"] == 0
    strict = pair.search({**profile, "duplicate_max_distance": 0}, search_request("羊绒围巾", page_size=10))
    assert len(strict["hits"]) == 6  # every copy differs in one bit from the photo, two from each other
    first = pair.search(profile, search_request("羊绒围巾", page_size=1))
    second = pair.search(profile, search_request("羊绒围巾", page_size=1, page=1))
    assert first["has_more"] and not second["has_more"]
    assert {first["hits"][0]["product_id"], second["hits"][0]["product_id"]} == set(ids)

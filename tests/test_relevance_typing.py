"""The relevance benchmark's typing queries (benchmarks/typing_queries.py, issue 24): pinyin,
initials, mixed script, same-sound words, Latin typos and Suggest prefixes are built from the
demo generator's truth alone, deterministically, each graded like the Chinese or correctly
spelt query it stands for; a same-sound word or a typo is nowhere in the catalog."""

from __future__ import annotations

import random
import string
from collections import Counter, defaultdict
from dataclasses import dataclass

import pytest
from xiaodian.demo.catalog import ProductTruth, stream_catalog_with_truth

from benchmarks import relevance
from benchmarks import typing_queries as tq
from benchmarks.relevance import JudgedQuery, Judgements, grade

pytestmark = pytest.mark.backend_independent  # run in the SQLite pass only

PER_CLASS = 30
PRODUCTS = 8_000


@dataclass(frozen=True)
class Built:
    truths: list[ProductTruth]
    titles: dict[str, str]
    shop_names: dict[str, str]
    text: str
    queries: list[JudgedQuery]
    prefixes: list[tq.PrefixQuery]


def build(seed: int = 7) -> Built:
    shops, pairs = stream_catalog_with_truth(seed=seed, product_count=PRODUCTS)
    products, truths = [], []
    for product, truth in pairs:
        products.append(product)
        truths.append(truth)
    shop_names = {shop.shop_id: shop.name for shop in shops}
    text = tq.catalog_text((p.title for p in products), (p.brand for p in products), shop_names.values())
    queries = tq.build_typing_queries(truths, text, random.Random("typing"), PER_CLASS)
    weights = {p.product_id: 1 + p.sales_30d for p in products}
    prefixes = tq.prefix_queries(truths, shop_names, random.Random("prefix"), 2 * PER_CLASS, weights)
    return Built(truths, {p.product_id: p.title for p in products}, shop_names, text, queries, prefixes)


@pytest.fixture(scope="module")
def built() -> Built:
    return build()


def of_class(built: Built, query_class: str) -> list[JudgedQuery]:
    return [q for q in built.queries if q.query_class == query_class]


# Pinyin


def test_pinyin_initials_and_mixed_script_of_a_known_pair() -> None:
    words = ["羊绒", "围巾"]
    assert tq.full_pinyin(words) == "yangrongweijin"
    assert tq.full_pinyin(words, " ") == "yangrong weijin"
    assert tq.syllables("羊绒围巾") == ["yang", "rong", "wei", "jin"]
    assert tq.initials(words) == "yrwj"
    assert tq.syllables("长款") == ["chang", "kuan"]  # read as a word, not 长's first reading (zhang)
    assert tq.syllables("女") == ["nv"]  # ü as v
    assert tq.first_reading("洋") == tq.first_reading("羊") == "yang"


def test_every_class_has_its_queries_and_they_are_deterministic(built: Built) -> None:
    counts = Counter(q.query_class for q in built.queries)
    assert set(counts) == set(relevance.TYPING_CLASSES)
    assert all(count == PER_CLASS for count in counts.values()), counts
    again = build()
    assert again.queries == built.queries and again.prefixes == built.prefixes
    assert Counter((p.source, p.match) for p in built.prefixes) == Counter(
        {(s, m): 2 * PER_CLASS // 12 for s in tq.PREFIX_SOURCES for m in tq.PREFIX_MATCHES}
    )


def test_pinyin_queries_spell_the_chinese_query_they_are_graded_as(built: Built) -> None:
    """Each query is a spelling of a catalog pair (material + type) that names what it is graded by."""
    spelt: dict[str, dict[str, set[tuple[str, str, bool]]]] = {
        c: defaultdict(set) for c in ("pinyin_full", "initials", "mixed_script")
    }
    for core in tq._cores(built.truths, imitations=False):
        words = [core.material_word, core.type_word]
        named = (core.material, core.product_type, core.imitation)
        spelt["pinyin_full"][tq.full_pinyin(words)].add(named)
        spelt["initials"][tq.initials(words)].add(named)
        spelt["mixed_script"][core.material_word + tq.full_pinyin([core.type_word])].add(named)
    judgements = Judgements(built.truths)
    syllable_spaced = 0
    for query_class in ("pinyin_full", "pinyin_spaced", "initials", "mixed_script"):
        for query in of_class(built, query_class):
            assert query.brand is None and query.attribute is None and not query.imitation
            assert query.material is not None and query.product_type is not None
            named = (query.material, query.product_type, query.imitation)
            if query_class == "mixed_script":
                chinese = query.text.rstrip(string.ascii_lowercase)
                assert tq.is_han(chinese) and query.text[len(chinese) :].isalpha()
                assert named in spelt["mixed_script"][query.text], query
            else:
                letters = query.text.replace(" ", "")
                assert letters.isascii() and letters.isalpha() and letters.islower()
                table = spelt["initials" if query_class == "initials" else "pinyin_full"]
                assert named in table[letters], query
            if query_class == "pinyin_full":
                assert " " not in query.text
            if query_class == "initials":
                assert len(query.text) >= tq.MIN_INITIALS_LETTERS
            if query_class == "pinyin_spaced":
                syllable_spaced += query.text.count(" ") > 1
            assert any(g == 2 for g in judgements.graded(query).values())
    assert 0 < syllable_spaced < PER_CLASS  # some spaced by syllable, most by word


# Same sound


def test_a_same_sound_word_sounds_the_same_and_is_nowhere_in_the_catalog(built: Built) -> None:
    queries = of_class(built, "same_sound")
    assert len(queries) == PER_CLASS
    for query in queries:
        assert tq.is_han(query.text)
        # The query is a catalog pair (of what it is graded as) with exactly one character replaced.
        pairs = {
            (t.material_word, t.type_word)
            for t in built.truths
            if t.material == query.material
            and t.imitation == query.imitation
            and t.product_type == query.product_type
            and t.material_word
        }
        originals = [
            (m, w)
            for m, w in pairs
            if len(m + w) == len(query.text) and sum(a != b for a, b in zip(m + w, query.text, strict=True)) == 1
        ]
        assert originals, query
        material_word, type_word = originals[0]
        original = material_word + type_word
        position = next(i for i, (a, b) in enumerate(zip(original, query.text, strict=True)) if a != b)
        assert tq.first_reading(query.text[position]) == tq.syllables(original)[position]
        assert query.text[position] not in "仿类非假人造" and not query.imitation
        # The word replaced in has 2+ characters and is in no title, brand or shop name.
        split = len(material_word)
        changed = query.text[:split] if position < split else query.text[split:]
        assert len(changed) >= 2 and changed not in built.text, query


def test_same_sound_word_replaces_one_character_with_an_absent_homophone() -> None:
    replaced = tq.same_sound_word("羊绒", random.Random(1), "羊绒围巾\n洋绒")
    assert replaced is not None and replaced != "洋绒" and len(replaced) == 2
    assert sum(a != b for a, b in zip(replaced, "羊绒", strict=True)) == 1
    index = 0 if replaced[0] != "羊" else 1
    assert tq.first_reading(replaced[index]) == ["yang", "rong"][index]
    assert tq.same_sound_word("羊绒", random.Random(1), "") == tq.same_sound_word("羊绒", random.Random(1), "")
    # Replacements are common characters (GB2312 level 1 and the demo vocabulary's).
    assert "洋" in tq.homophones()["yang"] and "闂" not in tq.homophones()["hong"]
    assert 3_755 <= sum(len(chars) for chars in tq.homophones().values()) < 4_000


# Latin typos


def test_osa_distance() -> None:
    assert tq.osa_distance("adidas", "adidas") == 0
    assert tq.osa_distance("adidas", "adiads") == 1  # a swap of neighbours is one edit
    assert tq.osa_distance("adidas", "adida") == 1
    assert tq.osa_distance("adidas", "aidas") == 1
    assert tq.osa_distance("adidas", "adidxs") == 1
    assert tq.osa_distance("lululemon", "lulluemn") == 2
    assert tq.osa_distance("ab", "ba") == 1 and tq.osa_distance("", "abc") == 3


def test_a_typo_is_at_the_right_edit_distance_and_nowhere_in_the_catalog(built: Built) -> None:
    queries = of_class(built, "latin_typo")
    assert len(queries) == PER_CLASS
    catalog_words = tq.latin_words(built.text)
    graded = Judgements(built.truths)
    kinds = Counter("model" if q.attribute else "brand" for q in queries)
    assert kinds["brand"] > 0 and kinds["model"] > 0
    for query in queries:
        written, product_type = query.text.rsplit(" ", 1)
        assert product_type == query.product_type
        correct = query.attribute or tq._latin_brand(query.brand or "")
        assert correct is not None
        # One word misspelt, every other letter as the brand or model writes it.
        runs, correct_runs = tq._LETTERS.findall(written), tq._LETTERS.findall(correct)
        assert len(runs) == len(correct_runs), query
        differing = [(w, c) for w, c in zip(runs, correct_runs, strict=True) if w != c]
        assert len(differing) == 1, query
        typo, word = differing[0]
        assert typo.casefold() not in catalog_words and len(word) >= tq.ONE_TYPO_LETTERS
        distance = tq.osa_distance(word.casefold(), typo.casefold())
        if len(word) < tq.TWO_TYPOS_LETTERS:
            assert distance == 1, query
        else:
            assert distance in (1, 2), query
        assert len(typo) >= (tq.ONE_TYPO_LETTERS if distance == 1 else tq.TWO_TYPOS_LETTERS)
        # Digits are never misspelt, and everything but the word is as written.
        assert "".join(ch for ch in written if ch.isdigit()) == "".join(ch for ch in correct if ch.isdigit())
        assert any(g == 2 for g in graded.graded(query).values()), query


def test_typo_makes_exactly_the_edits_asked_and_avoids_taken_words() -> None:
    rng = random.Random(3)
    for _ in range(50):
        one = tq.typo("adidas", 1, rng, {"adidas", "adiads"})
        assert one is not None and tq.osa_distance(one.casefold(), "adidas") == 1 and one != "adiads"
        assert len(one) >= 5
        two = tq.typo("lululemon", 2, rng, set())
        assert two is not None and tq.osa_distance(two, "lululemon") == 2 and len(two) >= 9
    assert tq.typo("UNIQLO", 1, random.Random(0), set()).isupper()  # type: ignore[union-attr]


def test_a_model_query_grades_by_the_title_word() -> None:
    base = ProductTruth(
        product_id="p1",
        shop_id="s1",
        category_id="c-phone-accessories",
        product_type="手机壳",
        type_word="手机壳",
        material=None,
        material_word=None,
        imitation=False,
        brand=None,
        copy_of=None,
        title_words=("磁吸手机壳", "适用iPhone15", "防摔"),
    )
    query = JudgedQuery("latin_typo", "iPhnoe15 手机壳", product_type="手机壳", attribute="iPhone15")
    assert grade(query, base) == 2
    full_width = ProductTruth(**{**base.__dict__, "title_words": ("磁吸手机壳", "适用ｉＰｈｏｎｅ１５")})
    assert grade(query, full_width) == 2
    other = ProductTruth(**{**base.__dict__, "title_words": ("磁吸手机壳", "iPhone16 Pro Max")})
    assert grade(query, other) == 1


# Suggest prefixes


def test_a_prefix_starts_its_completion_and_the_oracle_ranks_it_top_5(built: Built) -> None:
    assert len(built.prefixes) == 2 * PER_CLASS
    for prefix in built.prefixes:
        assert len(prefix.text) <= tq.MAX_PREFIX_CHARS
        completion = prefix.completion
        if prefix.match == "text":
            assert tq.key(completion).startswith(prefix.text) and len(prefix.text) < len(tq.key(completion))
            assert len(prefix.text) >= (2 if any(tq.is_han(ch) for ch in prefix.text) else 3)
        elif prefix.match == "pinyin":
            spelt = tq.full_pinyin([completion])
            assert spelt.startswith(prefix.text) and 3 <= len(prefix.text) < len(spelt)
        else:
            assert tq.initials([completion]).startswith(prefix.text) and len(prefix.text) >= 3
        if prefix.source == "shop_name":
            assert completion in built.shop_names.values()
        elif prefix.source == "brand":
            assert any(t.brand == completion for t in built.truths)
        elif prefix.source == "word":
            assert any(t.type_word == completion for t in built.truths)
        else:
            assert any((t.material_word or "") + t.type_word == completion for t in built.truths)


def test_prefix_evaluation_counts_a_completion_in_the_top_5() -> None:
    prefixes = [
        tq.PrefixQuery("yangr", "羊绒围巾", "phrase", "pinyin"),
        tq.PrefixQuery("山下", "山下有松", "brand", "text"),
        tq.PrefixQuery("lulu", "lululemon", "brand", "text"),
    ]
    suggestions = {"yangr": ["羊绒", "羊绒 围巾"], "山下": ["山下有松官方旗舰店"], "lulu": ["LULULEMON"]}
    results = relevance.evaluate_prefixes(prefixes, lambda p: suggestions[p])
    assert results["top5_share"] == pytest.approx(2 / 3)
    assert results["pinyin_top5_share"] == 1.0 and results["text_top5_share"] == 0.5
    assert results["brand_top5_share"] == 0.5

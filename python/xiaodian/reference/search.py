"""The executable specification of the Rust search engine, in plain Python.

`ReferenceSearchEngine` has the methods and dict shapes of `xiaodian._core.SearchEngine`
(`crates/xiaodian-py/src/bindings.rs`) and must give the same answers: the same hits in the same order,
the same `total_matched`, `any_term_match` and `has_more`, the same explanations, and scores
equal to the last bit, because every score is computed with the same floating-point operations
in the same order as `crates/xiaodian-core/src/rank/search/`. It keeps the products in a dict (each with
its analysed fields, kept until a shop changes) and recomputes every statistic on each search;
the Rust engine's inverted index, postings, dead documents, compaction, retrieval windows and
seeks, score tables, packed rank keys and top-k selection are optimisations that must not
change a result, and `tests/search/test_reference_search.py` holds the two to that.

Analysis (`crates/xiaodian-core/src/text/mod.rs`):
- normalize = NFKC, then each character lowercased on its own (no final-sigma rule);
- the normalised text is cut into maximal runs of one script: Han (the CJK ideograph ranges of
  `is_han`), digit (ASCII 0-9), letter (`str.isalpha`; Rust uses `char::is_alphabetic`, which
  also counts a few rare marks and letter numbers); anything else separates runs and vanishes;
- a letter or digit run is one token; a Han run of one character is that character; a longer
  Han run gives its character bigrams in order, then (analysis "full") the words jieba finds
  in it (`cut(run, HMM=False)`) whose length is not 2;
- query terms are the distinct tokens in order of first appearance; required are letter and
  digit runs, lone Han characters, every bigram except one that straddles the edge of a
  jieba word of two or more characters ("羊绒围巾" requires 羊绒 and 围巾, not 绒围; "包邮", cut
  into 包 and 邮, requires 包邮; "bigrams": every bigram), and a one-character jieba word with
  no one-character word beside it (小 in 小容量); jieba's words of three or more characters
  only add to the score, its other one-character words are left out (the bigrams of 包邮
  cover them); every query with a token has a required term;
- negating modifiers ("full"): where a jieba word starts with a modifier (仿, 类, 非, 假, 人造),
  the shortest dictionary word of 2-4 characters right after it is negated: the modifier and
  word are one token (仿羊绒) instead of the word's bigrams and jieba words; not at the start
  of a run right after a letter or digit run ("A类");
- query words: a letter or digit run, a lone Han character, a negated word with its modifier
  (alternatives: the word under every modifier), a synonym (longest first, left to right;
  alternatives: the other words of its group, by their bigrams), a jieba word of two or more
  characters (its bigrams), each bigram of a run of two or more one-character jieba words, a
  one-character jieba word alone (its character); the same word once, in order of first
  appearance ("bigrams": every bigram of a Han run is a word).

Index (`crates/xiaodian-core/src/rank/index.rs`), for each live product:
- three fields in this order: title, shop name (the current name of its shop, so renaming a
  shop changes its products), brand; a field's length is its number of tokens and a term's
  frequency in a field its number of occurrences, both saturating at 255;
- N = live products; df(t) = live products containing t in a field with positive weight
  (a *searched* field); avg_f = (sum of the live products' len_f) / N.

Search (`crates/xiaodian-core/src/rank/search/`, whose module doc lists the same rules):
- idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5));
  factor_f(len) = w_f / ((1 - b) + b * (len / avg_f));
  tf~ = 0.0 + tf_f * factor_f(len_f) for the searched fields where t occurs, in field order;
  first_phase = 0.0 + idf * (tf~ / (k1 + tf~)) for the contained query terms, in term order;
- retrieval by tiers: a product has a word when it contains each of the word's terms; the
  first tier is the products with every word (none when the query has no word); when fewer
  than `page_size` of them pass the filters and the query has W >= 3 words, a second tier
  (`second_tier_searched`) is the products with at least ceil(2W/3) words but not all; a
  blank query (only whitespace) browses every product passing the filters (the first tier)
  with first phase 0 and relevance acting as the sales sort;
- second phase: additive = 0.0 + w_text*first_phase + w_hero*hero_quality + w_rating*rating
  + w_shop*shop_score + w_sales*log1p(max(sales_30d, 0)), left to right, then
  final = additive * brand * new_merchant (each 1.0 when it does not apply; a shop is new
  while now_s - opened_at_s, saturating, is below window_days * 86400);
- each tier is ranked on its own and the first tier's ranking comes first, under every sort;
  the re-rank depth goes to the first tier first (the second gets what the first left);
- relevance, within a tier: order every match by (exact shop first, first phase descending,
  product id); the first `depth` get the second phase and are reordered by (exact shop first,
  final descending, product id), the rest keep their order with raw score = first phase; a
  product is an exact-shop match when its shop's folded name (normalize, whitespace runs to
  one space, trimmed) equals the folded query; the score a hit shows is the lowest raw score
  from the top of the ranking down to it (so it never increases down the list);
- other sorts order every match by their key (sales, price, Bayesian rating or listed_at),
  then first phase descending, then product id; every hit gets the second phase;
- pages (`shape_page`): near-duplicates collapse first (unless `keep_duplicates`): in rank
  order a product whose dHash is within `duplicate_max_distance` bits of a better-ranked kept
  product's joins the best-ranked such product and appears on no page, and each slot shows its
  group's original (the earliest listed member of its tier up to 100 positions past the page,
  then the smallest id) with the slot's tier and score; then pages are filled
  greedily in rank order with at most `max_per_shop` products of one shop per page (0: no
  cap), a product over its shop's cap waiting for the next page; has_more = a product neither
  collapsed nor placed on pages up to the requested one remains; a hit's
  collapsed_duplicates counts the products collapsed into its slot among the positions examined
  while filling the pages up to this one and the 100 after, the response's those met filling
  this page.

Approximate matching (`crates/xiaodian-core/src/rank/approximate.rs`, `approximate` below; on
unless the engine is made with `approximate=False`), right after the query is analysed: a word
is *missing* when a term of its first alternative is in no live product (df 0), and
- the *phrases* are the terms of the live products that are Han dictionary words of 1-4
  characters ("full" analysis) and the live titles' phrases (`Analyzer.phrases`) of 2-4
  characters, each spelt in pinyin (`xiaodian.reference.pinyin`, every reading combination,
  at most 16) and by initials; a spelling or initials give the phrases they are the first
  spelling of when there are any, else the others; a phrase is live when a live product has
  it (df > 0, or a title phrase) and its terms (bigrams; a lone character itself) have df > 0,
  its df being their least;
- consecutive missing letter words are read together as pinyin (each word's cuts, at most 8
  readings): the first reading covered by pieces of 1-4 syllables, each the spelling of a
  live phrase and none across a space beside a word of two or more syllables, is taken, its
  best cover the fewest pieces (one syllable counting two), then the largest least df, then
  the longest first piece; otherwise each word alone: as pinyin (when there were several),
  Latin typos (5+ letters: one edit, 9+: two, optimal string alignment distance), initials
  (2-8 letters; of the best 8 covers the first whose pieces some live product has together);
  a missing Han word of 2-4 characters, not negated and without synonyms, matches the live
  phrases read like it (same sound);
- a word's approximations are its best 8 (fewest edits, largest df, then text); it keeps its
  typed terms as its first alternative, the approximations' terms are appended to the query
  terms in order of first appearance and score x `approximate_weight`; explanations list
  (word, matched, kind) in `approximate_matches`, and `matched_synonyms` leaves such words out.
The Rust index keeps the phrases and Latin words as terms arrive (`SoundIndex`); here they are
derived from the live products on each search, which gives the same answers as long as the
Rust index forgets a dead product's phrases (it keeps them until it compacts).

Invariants the Rust code relies on and this code shows directly: the order is total (ties end
at the unique product id), so document numbering never matters; scores are finite and never
-0.0, so Python's float order equals Rust's `total_cmp`; a page computed from the whole ranking
equals the Rust page computed from a long enough prefix of it (an earlier page that is not full
has used up the prefix, and then no later page can be full either).
"""

from __future__ import annotations

import functools
import logging
import math
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import jieba

from xiaodian.errors import FailedPrecondition, InvalidArgument
from xiaodian.reference import pinyin

#: The indexed text fields, in the order of every per-field tuple.
FIELDS = ("title", "shop_name", "brand")
#: Field lengths and term frequencies are stored in one byte and saturate there.
MAX_FIELD_COUNT = 255
MAX_PAGE_SIZE = 100
MAX_QUERY_CHARS = 100
SECONDS_PER_DAY = 86_400
SORTS = ("relevance", "sales", "price_ascending", "price_descending", "rating", "newest")
ANALYSES = ("full", "bigrams")

_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1

#: Rust's `char::is_whitespace` (the Unicode White_Space property), used by `str::trim` and
#: `split_whitespace`. Python's `str.isspace` also accepts U+001C-U+001F, so it is not used.
_WHITESPACE = frozenset("\t\n\x0b\x0c\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | frozenset(
    chr(c) for c in range(0x2000, 0x200B)
)

_HAN, _LETTER, _DIGIT = "han", "letter", "digit"

_SHOP_KEYS = ("shop_id", "name", "is_brand", "opened_at_s", "experience_score", "experience_review_count")
_PRODUCT_KEYS = (
    "product_id",
    "shop_id",
    "title",
    "brand",
    "category_id",
    "price_fen",
    "sales_30d",
    "stock",
    "rating_sum",
    "rating_count",
    "hero_quality",
    "dhash",
    "listed_at_s",
)


# --- analysis ------------------------------------------------------------------------------


def normalize(text: str) -> str:
    """NFKC, then lowercase character by character: `ＩＰｈｏｎｅ１５` becomes `iphone15`."""
    return "".join(c.lower() for c in unicodedata.normalize("NFKC", text))


def is_han(c: str) -> bool:
    """CJK ideographs: the Unified Ideographs blocks and their extensions."""
    cp = ord(c)
    return (
        0x3400 <= cp <= 0x4DBF
        or 0x4E00 <= cp <= 0x9FFF
        or 0xF900 <= cp <= 0xFAFF
        or 0x20000 <= cp <= 0x2FA1F
        or 0x30000 <= cp <= 0x323AF
    )


def _script(c: str) -> str | None:
    if is_han(c):
        return _HAN
    if "0" <= c <= "9":
        return _DIGIT
    if c.isalpha():
        return _LETTER
    return None


def _runs(normalized: str) -> list[tuple[str, str, bool]]:
    """The maximal runs of one script, in order; other characters separate and vanish. Each
    run says whether it directly follows a letter or digit run (the 类 of "A类")."""
    out: list[tuple[str, str, bool]] = []
    start = 0
    run_script: str | None = None
    previous: tuple[int, str] | None = None  # the last run's end and script
    for i, c in enumerate(normalized):
        s = _script(c)
        if s != run_script:
            if run_script is not None:
                after_latin = previous is not None and previous[0] == start and previous[1] != _HAN
                out.append((normalized[start:i], run_script, after_latin))
                previous = (i, run_script)
            run_script = s
            start = i
    if run_script is not None:
        after_latin = previous is not None and previous[0] == start and previous[1] != _HAN
        out.append((normalized[start:], run_script, after_latin))
    return out


def _bigrams(chars: str) -> list[str]:
    return [chars[i : i + 2] for i in range(len(chars) - 1)]


@functools.cache
def _jieba_tokenizer() -> Any:
    """One jieba tokenizer with the default dictionary (the one jieba-rs embeds), built once."""
    logging.getLogger("jieba").setLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def _jieba_words(run: str) -> list[str]:
    """jieba's words of a Han run, without the HMM for unknown words (as `cut(run, false)`)."""
    return list(_jieba_tokenizer().cut(run, HMM=False))


def _is_dictionary_word(word: str) -> bool:
    """In jieba's dictionary (`has_word`); its table also holds every word's prefixes, at 0."""
    return bool(_jieba_tokenizer().FREQ.get(word, 0) > 0)


#: The negating modifiers recognised by default, and the longest word tried after one.
DEFAULT_NEGATING_MODIFIERS = ("仿", "类", "非", "假", "人造")
MAX_NEGATED_CHARS = 4
#: Longest title phrase (`Analyzer.phrases`), in characters.
MAX_PHRASE_CHARS = 8
#: A near-duplicate group's original is looked for up to this many positions past the page.
DUPLICATE_LOOKAHEAD = 100


def _is_blank(text: str) -> bool:
    """`text.trim().is_empty()` in Rust."""
    return all(c in _WHITESPACE for c in text)


def _split_whitespace(text: str) -> list[str]:
    """Rust's `str::split_whitespace`."""
    words: list[str] = []
    word: list[str] = []
    for c in text:
        if c in _WHITESPACE:
            if word:
                words.append("".join(word))
                word = []
        else:
            word.append(c)
    if word:
        words.append("".join(word))
    return words


def fold_name(text: str) -> str:
    """Folds text for the exact shop-name comparison: normalised, whitespace runs to one space."""
    return " ".join(_split_whitespace(normalize(text)))


class Analyzer:
    """Text to tokens; `analysis` is "full" (bigrams and jieba words) or "bigrams"."""

    def __init__(self, analysis: str = "full", negating_modifiers: Sequence[str] = DEFAULT_NEGATING_MODIFIERS) -> None:
        if analysis not in ANALYSES:
            raise InvalidArgument(
                f"unknown analysis '{analysis}': use 'full' or 'bigrams'",
                [("analysis", "must be full or bigrams")],
            )
        self.full = analysis == "full"
        # Normalised, longest first (a stable sort keeps the given order among equals).
        modifiers = sorted((normalize(m) for m in negating_modifiers), key=len, reverse=True)
        self.modifiers = [m for i, m in enumerate(modifiers) if i == 0 or m != modifiers[i - 1]]

    def negations(self, run: str, lengths: Sequence[int], after_latin: bool) -> list[tuple[int, int, int]]:
        """The negated words of a Han run, each (modifier start, word start, word end): where
        a jieba word starts with a modifier, the shortest dictionary word of 2-4 characters
        right after the modifier ("full" analysis only); a run right after a letter or digit
        ("A类") has no modifier at its start."""
        if not self.full:
            return []
        out: list[tuple[int, int, int]] = []
        start = 0
        for n in lengths:
            p = start
            start += n
            if (out and p < out[-1][2]) or (p == 0 and after_latin):
                continue
            modifier = next((m for m in self.modifiers if run.startswith(m, p)), None)
            if modifier is None:
                continue
            q = p + len(modifier)
            for w in range(2, MAX_NEGATED_CHARS + 1):
                if q + w <= len(run) and _is_dictionary_word(run[q : q + w]):
                    out.append((p, q, q + w))
                    break
        return out

    def is_dictionary_word(self, word: str) -> bool:
        """In jieba's dictionary ("full" analysis; never with "bigrams", which has no jieba)."""
        return self.full and _is_dictionary_word(word)

    def tokens(self, text: str) -> list[str]:
        """Tokens in order of appearance, repeats kept; a negated word and its modifier are
        one token instead of the word's bigrams and jieba words."""
        tokens: list[str] = []
        for run, script, after_latin in _runs(normalize(text)):
            if script != _HAN or len(run) == 1:
                tokens.append(run)
                continue
            if not self.full:
                tokens.extend(_bigrams(run))
                continue
            words = _jieba_words(run)
            negations = self.negations(run, [len(w) for w in words], after_latin) if self.modifiers else []
            for i in range(len(run) - 1):
                if not any(word_start <= i and i + 2 <= end for _, word_start, end in negations):
                    tokens.append(run[i : i + 2])
            at = 0
            for word in words:
                start, at = at, at + len(word)
                inside = any(s <= start and at <= e for s, _, e in negations)
                if len(word) != 2 and not inside:
                    tokens.append(word)
            tokens.extend(run[s:e] for s, _, e in negations)
        return tokens

    def phrases(self, text: str) -> list[str]:
        """The text's phrases, in order, repeats kept. The *units* of a Han run are jieba's
        words that are dictionary words outside a negation (modifier and word), except that
        exactly two one-character words in a row are one unit (卫 衣 -> 卫衣, 天 丝 -> 天丝);
        a word that is no unit breaks phrases. Phrases: two or three units in a row, together
        at most MAX_PHRASE_CHARS characters (羊绒围巾, 充电宝), and each unit of two merged
        characters. None with "bigrams" analysis. Suggest offers the phrases of the titles,
        and approximate matching spells them."""
        if not self.full:
            return []
        out: list[str] = []
        for run, script, after_latin in _runs(normalize(text)):
            if script != _HAN or len(run) == 1:
                continue
            lengths = [len(word) for word in _jieba_words(run)]
            negations = self.negations(run, lengths, after_latin) if self.modifiers else []
            units: list[tuple[int, int] | None] = []
            start = 0
            for n in lengths:
                end = start + n
                outside = not any(start < neg_end and neg_start < end for neg_start, _, neg_end in negations)
                units.append((start, end) if outside and _is_dictionary_word(run[start:end]) else None)
                start = end

            def single(k: int, units: list[tuple[int, int] | None] = units) -> bool:
                unit = units[k] if 0 <= k < len(units) else None
                return unit is not None and unit[1] - unit[0] == 1

            # (start, end, whether two one-character words were merged), None: no unit.
            merged: list[tuple[int, int, bool] | None] = []
            i = 0
            while i < len(units):
                unit = units[i]
                if single(i) and single(i + 1) and not single(i - 1) and not single(i + 2):
                    second = units[i + 1]
                    assert unit is not None and second is not None
                    merged.append((unit[0], second[1], True))
                    i += 2
                else:
                    merged.append(None if unit is None else (unit[0], unit[1], False))
                    i += 1
            for i, first_unit in enumerate(merged):
                if first_unit is None:
                    continue
                first, _, pair = first_unit
                if pair:
                    out.append(run[first_unit[0] : first_unit[1]])
                for following in merged[i + 1 : i + 3]:
                    if following is None or following[1] - first > MAX_PHRASE_CHARS:
                        break
                    out.append(run[first : following[1]])
        return out

    def query_terms(self, text: str) -> list[tuple[str, bool]]:
        """Distinct tokens in order of first appearance, each with its `required` flag, then
        the terms only a negated word's other modifiers bring."""
        return [(term.text, term.required) for term in self.analyze_query(text).terms]

    def query_words(self, text: str, synonyms: Sequence[Sequence[str]] = ()) -> list[list[list[str]]]:
        """The query's words, each a list of its alternatives, each the list of its terms."""
        query = self.analyze_query(text, synonyms)
        return [
            [[query.terms[i].text for i in alternative] for alternative in word.alternatives] for word in query.words
        ]

    def analyze_query(self, text: str, synonyms: Sequence[Sequence[str]] = ()) -> AnalyzedQuery:
        """The query terms (the distinct tokens in order of first appearance, each with its
        `required` flag, then the terms only synonyms bring) and the query words (each its
        alternatives: the sorted indices of their terms, the word as typed first; the same
        word once, in order of first appearance)."""
        groups = [[normalize(word) for word in group] for group in synonyms]
        required: set[str] = set()
        word_texts: list[_WordDraft] = []
        for run, script, after_latin in _runs(normalize(text)):
            if script != _HAN or len(run) == 1:
                required.add(run)
                word_texts.append(_WordDraft([[run]], [], run, False, script == _LETTER))
                continue
            # unit[i]: (start, length) of the unit holding character i: a negated word with
            # its modifier, a synonym found here (longest first, left to right), else its
            # jieba word (every character its own word in "bigrams" mode) unless that word
            # overlaps one of those, then the character alone.
            lengths = [len(word) for word in _jieba_words(run)] if self.full else [1] * len(run)
            negations = self.negations(run, lengths, after_latin) if self.modifiers else []
            unit = [(i, 1) for i in range(len(run))]
            taken = [False] * len(run)
            for s, _, e in negations:
                for j in range(s, e):
                    unit[j], taken[j] = (s, e - s), True
            found: list[int | None] = [None] * len(run)
            i = 0
            while i < len(run):
                matches = [
                    (len(word), -g, g)
                    for g, group in enumerate(groups)
                    for word in group
                    if run.startswith(word, i) and not any(taken[i : i + len(word)])
                ]
                if matches:
                    n, _, g = max(matches)
                    for j in range(i, i + n):
                        unit[j], taken[j], found[j] = (i, n), True, g
                    i += n
                else:
                    i += 1
            if self.full:
                i = 0
                for n in lengths:
                    if n > 1 and not any(taken[i : i + n]):
                        for j in range(i, i + n):
                            unit[j] = (i, n)
                    i += n
            i = 0
            while i < len(run):
                n = unit[i][1] if unit[i][1] > 1 else _ones_from([u[1] for u in unit], i)
                span = run[i : i + n]
                negation = next((neg for neg in negations if neg[0] == i), None)
                texts: list[str] = []
                if negation is not None:
                    # One token, modifier and word; every other modifier is an alternative.
                    word = run[negation[1] : negation[2]]
                    alternatives = [[span]]
                    for modifier in self.modifiers:
                        other = modifier + word
                        if other != span:
                            alternatives.append([other])
                            texts.append(other)
                elif unit[i][1] == 1 and n > 1:
                    # A run of one-character words: each of its bigrams is a word.
                    for bigram in _bigrams(span):
                        required.add(bigram)
                        word_texts.append(_WordDraft([[bigram]], [], bigram, False))
                    i += n
                    continue
                else:
                    alternatives = [[span] if n == 1 else _bigrams(span)]
                    group_of = found[i]
                    if group_of is not None and unit[i][1] > 1:
                        for word in groups[group_of]:
                            if word != span:
                                alternatives.append(_bigrams(word))
                                texts.append(word)
                required.update(alternatives[0])
                word_texts.append(_WordDraft(alternatives, texts, span, negation is not None))
                i += n
        terms: list[QueryTerm] = []
        seen: set[str] = set()
        for token in self.tokens(text):
            # A one-character jieba word inside a longer run is covered by the run's bigrams.
            inner_character = len(token) == 1 and token not in required
            if not inner_character and token not in seen:
                seen.add(token)
                terms.append(QueryTerm(token, token in required, False))
        for draft in word_texts:
            for k, texts in enumerate(draft.alternatives):
                for term_text in texts:
                    if term_text not in seen:
                        seen.add(term_text)
                        terms.append(QueryTerm(term_text, k == 0, k > 0 and not draft.negated))
        index = {term.text: i for i, term in enumerate(terms)}
        words: list[QueryWord] = []
        for draft in word_texts:
            term_ids = [sorted({index[t] for t in alternative}) for alternative in draft.alternatives]
            query_word = QueryWord(term_ids, draft.texts, draft.text, draft.negated, draft.letters)
            if query_word not in words:
                words.append(query_word)
        return AnalyzedQuery(terms, words)


@dataclass(frozen=True)
class _WordDraft:
    """A query word while its terms are gathered."""

    alternatives: list[list[str]]
    texts: list[str]
    text: str
    negated: bool
    letters: bool = False


@dataclass(frozen=True)
class QueryTerm:
    text: str
    required: bool
    #: Only a synonym brings it: its scores are weighed by the profile's synonym_weight.
    synonym: bool
    #: Only an approximation brings it (`approximate`): its scores are weighed by the
    #: profile's approximate_weight.
    approximate: bool = False


@dataclass(frozen=True)
class QueryWord:
    #: Each alternative's term indices, ascending; the word as typed first.
    alternatives: list[list[int]]
    #: The text (normalised) of each alternative after the first: a synonym, or the negated
    #: word under another modifier.
    synonyms: list[str]
    #: The word as typed (normalised).
    text: str
    #: A word under a negating modifier.
    negated: bool
    #: A run of letters (`iphone`, `yangrong`).
    letters: bool = False
    #: Its alternatives after the first are approximations of this kind ("pinyin",
    #: "initials", "same_sound" or "typo"; the first, as typed, matches nothing): `synonyms`
    #: holds their texts.
    approximate: str | None = None


@dataclass(frozen=True)
class AnalyzedQuery:
    terms: list[QueryTerm]
    words: list[QueryWord]


def _ones_from(lengths: Sequence[int], i: int) -> int:
    """The number of one-character words from position i on."""
    n = 0
    while i + n < len(lengths) and lengths[i + n] == 1:
        n += 1
    return n


# --- approximate matching (crates/xiaodian-core/src/rank/approximate.rs) ----------------------

#: Most reading combinations a phrase is spelt by.
MAX_SPELLINGS = 16
#: Most approximations of one query word.
MAX_APPROXIMATIONS = 8
#: Longest phrase matched approximately, in characters (and syllables).
MAX_PIECE_SYLLABLES = 4
#: Most readings of a run of missing letter words tried.
MAX_READINGS = 8
#: Fewest letters of a word that may be a typo.
MIN_TYPO_LETTERS = 5
#: Fewest letters of a word that may have two typos.
TWO_TYPOS_LETTERS = 9
#: Most letters of a word of initials.
MAX_INITIALS = 8
#: Most covers of a word of initials tried for one whose pieces meet in a product.
MAX_COVERS = 8

PINYIN, INITIALS, SAME_SOUND, TYPO = "pinyin", "initials", "same_sound", "typo"


def _ascii_lowercase(text: str) -> bool:
    """Every character in a-z (true for the empty text, as Rust's `all`)."""
    return all("a" <= c <= "z" for c in text)


@functools.cache
def _phrase_sound(phrase: str) -> tuple[tuple[tuple[str, ...], ...], tuple[tuple[str, bool], ...]]:
    """A phrase's spellings (every reading combination, at most MAX_SPELLINGS, the first
    readings first) and their distinct initials, each with whether they are the first
    spelling's."""
    spellings = tuple(tuple(s) for s in pinyin.spellings(phrase, MAX_SPELLINGS))
    initials: list[tuple[str, bool]] = []
    for k, spelling in enumerate(spellings):
        letters = "".join(pinyin.initial(s) for s in spelling)
        if all(letters != other for other, _ in initials):
            initials.append((letters, k == 0))
    return spellings, tuple(initials)


def _phrase_terms(phrase: str) -> list[str]:
    """The terms that match a phrase: its bigrams, or the lone character."""
    return [phrase] if len(phrase) == 1 else _bigrams(phrase)


@dataclass(frozen=True)
class _Keyed:
    """A phrase under one key of `SoundIndex`."""

    text: str
    #: The key comes from the phrase's first spelling (every character's most common reading).
    first: bool


class SoundIndex:
    """The index's phrases by sound and its Latin words by length: the terms that are Latin
    words (a-z only) or dictionary words, and the title phrases (`Analyzer.phrases`), of the
    live products. The Rust index keeps them as terms and phrases arrive (and keeps those of
    dead products until it compacts); both find the same approximations as long as a phrase
    found there is one of a live product here (see `_Finder.live_of`)."""

    def __init__(self, analyzer: Analyzer, terms: Iterable[str], title_phrases: Iterable[str]) -> None:
        #: A spelling (syllables) -> the phrases spelt so.
        self.by_pinyin: dict[tuple[str, ...], list[_Keyed]] = {}
        #: Initials -> the phrases with them.
        self.by_initials: dict[str, list[_Keyed]] = {}
        #: Number of letters -> the words of that many letters (a-z only).
        self.latin: dict[int, list[str]] = {}
        for text in terms:
            self.add_term(text, analyzer)
        for phrase in title_phrases:
            self.add_phrase(phrase)

    def add_term(self, text: str, analyzer: Analyzer) -> None:
        if _ascii_lowercase(text):
            self.latin.setdefault(len(text), []).append(text)
        elif analyzer.is_dictionary_word(text):
            self.add_phrase(text)

    def add_phrase(self, text: str) -> None:
        """A dictionary word or a title phrase (`Analyzer.phrases`); only Han phrases of
        1-MAX_PIECE_SYLLABLES characters are kept."""
        if not (1 <= len(text) <= MAX_PIECE_SYLLABLES and all(is_han(c) for c in text)):
            return
        spellings, initials = _phrase_sound(text)
        for k, spelling in enumerate(spellings):
            self.by_pinyin.setdefault(spelling, []).append(_Keyed(text, k == 0))
        for letters, first in initials:
            self.by_initials.setdefault(letters, []).append(_Keyed(text, first))


@dataclass(frozen=True)
class Approximation:
    """One way of matching a word approximately: the phrase or word matched, its terms, and
    what orders it among the word's others."""

    text: str
    terms: list[str]
    edits: int
    df: int


def _best(found: list[Approximation]) -> list[Approximation]:
    """The best MAX_APPROXIMATIONS: fewest edits, then largest df, then text."""
    return sorted(found, key=lambda a: (a.edits, -a.df, a.text))[:MAX_APPROXIMATIONS]


def _piece_cost(units: int, found: list[Approximation]) -> tuple[int, int] | None:
    """What a piece of a cover costs, None when nothing matches it: 1, or 2 for a piece of
    one unit (a lone syllable or initial says little); and the df of its most common phrase."""
    if not found:
        return None
    return (2 if units == 1 else 1), max(a.df for a in found)


def _cheapest_cover(n: int, cost: Callable[[int, int], tuple[int, int] | None]) -> list[tuple[int, int]] | None:
    """The best cover of 0..n by pieces of 1-MAX_PIECE_SYLLABLES units, each piece's cost and
    df given by `cost(start, end)` (None: no piece; each piece is asked about once): the least
    total cost, then the largest least df of its pieces (a cut into common phrases, not rare
    ones that seldom meet: `mncdb` is 迷你 充电宝), then the longest first piece, and so on."""
    # best[i]: the best cover of i..n as (total cost, least df, first piece's end); the
    # least df of no piece is unbounded.
    best: list[tuple[int, float, int] | None] = [None] * (n + 1)
    best[n] = (0, math.inf, n)
    for start in range(n - 1, -1, -1):
        for length in range(min(MAX_PIECE_SYLLABLES, n - start), 0, -1):
            end = start + length
            rest = best[end]
            if rest is None:
                continue
            piece = cost(start, end)
            if piece is None:
                continue
            candidate = (rest[0] + piece[0], min(piece[1], rest[1]), end)
            current = best[start]
            if current is None or (candidate[0], -candidate[1]) < (current[0], -current[1]):
                best[start] = candidate
    if best[0] is None:
        return None
    cover: list[tuple[int, int]] = []
    start = 0
    while start < n:
        step = best[start]
        assert step is not None, "a cover continues to the end"
        cover.append((start, step[2]))
        start = step[2]
    return cover


def _covered(
    n: int, phrases: Callable[[int, int], list[Approximation]]
) -> list[tuple[int, int, list[Approximation]]] | None:
    """The cheapest cover of 0..n by pieces with phrases (`_cheapest_cover`, `_piece_cost`):
    each piece's (start, end, phrases)."""
    found: dict[tuple[int, int], list[Approximation]] = {}

    def cost(start: int, end: int) -> tuple[int, int] | None:
        found[(start, end)] = phrases(start, end)
        return _piece_cost(end - start, found[(start, end)])

    cover = _cheapest_cover(n, cost)
    if cover is None:
        return None
    return [(start, end, found[(start, end)]) for start, end in cover]


def osa_distance(a: str, b: str, bound: int) -> int:
    """The optimal string alignment distance (restricted Damerau-Levenshtein: insertions,
    deletions, substitutions, and transpositions of two neighbours, each one edit, no
    substring edited twice), or bound + 1 when it exceeds `bound`. The Rust engine's
    Levenshtein automata (`levenshtein_automata`, transpositions costing one) compute it."""
    if abs(len(a) - len(b)) > bound:
        return bound + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], previous2[j - 2] + 1)
        # Every later row is at least the lesser of this row's least and the last row's least
        # plus one: past the bound for good.
        if min(row) > bound and min(previous) > bound:
            return bound + 1
        previous2, previous = previous, row
    return min(previous[len(b)], bound + 1)


class Lookup(Protocol):
    """What approximate matching asks of the index, for the fields a search searches."""

    def df(self, term: str) -> int:
        """The number of live products containing the term."""
        ...

    def has_phrase(self, phrase: str) -> bool:
        """True when a live product has the phrase: a dictionary word as a term, or a title
        phrase in its title (`Analyzer.phrases`)."""
        ...

    def products(self, term: str) -> set[str]:
        """The live products containing the term."""
        ...


class _Finder:
    def __init__(self, sound: SoundIndex, lookup: Lookup) -> None:
        self.sound = sound
        self.lookup = lookup

    def live(self, phrases: Sequence[_Keyed], except_: str) -> list[Approximation]:
        """The live phrases of `phrases` other than `except_`, best first, at most
        MAX_APPROXIMATIONS: those matched through their first spelling when there are any,
        else those matched through another."""
        first = self.live_of([keyed for keyed in phrases if keyed.first], except_)
        if first:
            return first
        return self.live_of([keyed for keyed in phrases if not keyed.first], except_)

    def live_of(self, phrases: Iterable[_Keyed], except_: str) -> list[Approximation]:
        """A phrase is live when a live product has it (in a searched field, or as a title
        phrase) and every term it is matched by is in a live product (in a searched field);
        its df is the least df of those terms."""
        found: list[Approximation] = []
        for keyed in phrases:
            phrase = keyed.text
            if phrase == except_ or any(a.text == phrase for a in found):
                continue
            terms = _phrase_terms(phrase)
            df = min(self.lookup.df(t) for t in terms)
            if df > 0 and self.lookup.has_phrase(phrase):
                found.append(Approximation(phrase, terms, 0, df))
        return _best(found)

    def by_pinyin(self, spelling: Sequence[str], except_: str) -> list[Approximation]:
        return self.live(self.sound.by_pinyin.get(tuple(spelling), []), except_)

    def by_initials(self, initials: str) -> list[Approximation]:
        return self.live(self.sound.by_initials.get(initials, []), "")

    def pinyin_pieces(self, words: Sequence[str]) -> list[tuple[tuple[int, int], str, list[Approximation]]] | None:
        """Consecutive letter words read as pinyin: for each piece, the range of words it was
        read from (first, last), its syllables as text and its phrases. The readings are the
        cartesian product of each word's cuts, in order, at most MAX_READINGS; the first with
        a cover wins."""
        readings: list[tuple[list[str], list[int]]] = [([], [])]
        for w, word in enumerate(words):
            cuts = pinyin.cuts(word)
            if not cuts:
                return None
            longer: list[tuple[list[str], list[int]]] = []
            for syllables, owners in readings:
                if len(longer) == MAX_READINGS:
                    break
                for cut in cuts:
                    if len(longer) == MAX_READINGS:
                        break
                    longer.append(([*syllables, *cut], [*owners, *([w] * len(cut))]))
            readings = longer
        for syllables, owners in readings:
            pieces = _covered(len(syllables), functools.partial(self._spelt, syllables, owners))
            if pieces is not None:
                return [
                    ((owners[start], owners[end - 1]), "".join(syllables[start:end]), phrases)
                    for start, end, phrases in pieces
                ]
        return None

    def _spelt(self, syllables: list[str], owners: list[int], start: int, end: int) -> list[Approximation]:
        """The phrases of a piece of a reading; none for a piece across a kept space: a space
        between two words, one of them of two or more syllables (`yangrong weijin` is 羊绒
        and 围巾 apart; `yang rong` may be one piece)."""
        for b in range(start + 1, end):
            if owners[b - 1] != owners[b] and (owners.count(owners[b - 1]) > 1 or owners.count(owners[b]) > 1):
                return []
        return self.by_pinyin(syllables[start:end], "")

    def initials_pieces(self, word: str) -> list[tuple[str, list[Approximation]]] | None:
        """A letter word read as initials: each piece's letters and phrases. Its covers by
        pieces of 1-MAX_PIECE_SYLLABLES initials, each the initials of a live phrase, are
        ordered as `_cheapest_cover` orders them (the least total cost, then the largest
        least df, then the longer pieces first); the first of the best MAX_COVERS whose pieces
        meet in a live product (some product has, for every piece, all terms of one of its
        phrases) is taken, else the first."""
        n = len(word)
        if not (2 <= n <= MAX_INITIALS and _ascii_lowercase(word)):
            return None
        pieces: dict[tuple[int, int], list[Approximation]] = {}
        for start in range(n):
            for end in range(start + 1, min(start + MAX_PIECE_SYLLABLES, n) + 1):
                found = self.by_initials(word[start:end])
                if found:
                    pieces[(start, end)] = found
        # Every cover: (cost, least df, its pieces).
        covers: list[tuple[int, float, list[tuple[int, int]]]] = []

        def extend(start: int, cost: int, least: float, cover: list[tuple[int, int]]) -> None:
            if start == n:
                covers.append((cost, least, cover))
                return
            for end in range(start + 1, min(start + MAX_PIECE_SYLLABLES, n) + 1):
                found = pieces.get((start, end))
                if found is not None:
                    piece = _piece_cost(end - start, found)
                    assert piece is not None, "found is not empty"
                    extend(end, cost + piece[0], min(least, piece[1]), [*cover, (start, end)])

        extend(0, 0, math.inf, [])
        if not covers:
            return None
        # The pieces' ends compared from the first piece on, descending (a later end is a
        # longer piece; two covers' ends are never one a prefix of the other: both end at n).
        covers.sort(key=lambda c: (c[0], -c[1], [-end for _, end in c[2]]))

        def meets(cover: list[tuple[int, int]]) -> bool:
            common: set[str] | None = None
            for piece in cover:
                anywhere: set[str] = set()
                for a in pieces[piece]:
                    anywhere |= self.products_with_all(a.terms)
                common = anywhere if common is None else common & anywhere
                if not common:
                    return False
            return True

        chosen = next((cover for _, _, cover in covers[:MAX_COVERS] if meets(cover)), covers[0][2])
        return [(word[start:end], pieces[(start, end)]) for start, end in chosen]

    def products_with_all(self, terms: Sequence[str]) -> set[str]:
        """The live products containing every one of `terms`."""
        common: set[str] | None = None
        for term in terms:
            products = self.lookup.products(term)
            common = products if common is None else common & products
        return common or set()

    def typos(self, word: str) -> list[Approximation]:
        """The Latin words within the edits a word of its length may have: 1 from
        MIN_TYPO_LETTERS letters, 2 from TWO_TYPOS_LETTERS."""
        n = len(word)
        if n < MIN_TYPO_LETTERS or not _ascii_lowercase(word):
            return []
        max_edits = 2 if n >= TWO_TYPOS_LETTERS else 1
        found: list[Approximation] = []
        for length in range(n - max_edits, n + max_edits + 1):
            for candidate in self.sound.latin.get(length, []):
                if candidate == word or any(a.text == candidate for a in found):
                    continue
                edits = osa_distance(word, candidate, max_edits)
                if edits <= max_edits:
                    df = self.lookup.df(candidate)
                    if df > 0:
                        found.append(Approximation(candidate, [candidate], edits, df))
        return _best(found)

    def same_sound(self, word: str) -> list[Approximation]:
        """The live phrases that sound like a Han word, but for the word itself."""
        found: list[Approximation] = []
        for spelling in pinyin.spellings(word, MAX_SPELLINGS):
            for a in self.by_pinyin(spelling, word):
                if not any(f.text == a.text for f in found):
                    found.append(a)
        return _best(found)


@dataclass(frozen=True)
class _Draft:
    """A word of the expanded query while it is built: its typed terms, its text, its
    approximations and their kind."""

    typed: list[str]
    text: str
    approximations: list[Approximation]
    kind: str


def approximate(sound: SoundIndex, query: AnalyzedQuery, lookup: Lookup) -> AnalyzedQuery:
    """The query as the index can match it: `query` with approximations for its missing words
    (a word is missing when a term of its first alternative is in no live product), by the
    rules of `crates/xiaodian-core/src/rank/approximate.rs`."""
    finder = _Finder(sound, lookup)
    terms, words = query.terms, query.words

    def missing(word: QueryWord) -> bool:
        return any(lookup.df(terms[t].text) == 0 for t in word.alternatives[0])

    def typed(word: QueryWord) -> list[str]:
        return [terms[t].text for t in word.alternatives[0]]

    # Each word of the result: unchanged (its index), or a draft.
    out: list[int | _Draft] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word.letters and missing(word):
            j = i + 1
            while j < len(words) and words[j].letters and missing(words[j]):
                j += 1
            pieces = finder.pinyin_pieces([w.text for w in words[i:j]])
            if pieces is not None:
                for (first, last), text, approximations in pieces:
                    typed_terms = [t for w in words[i + first : i + last + 1] for t in typed(w)]
                    out.append(_Draft(typed_terms, text, approximations, PINYIN))
                i = j
                continue
            for k, w in enumerate(words[i:j]):
                alone = finder.pinyin_pieces([w.text]) if j - i > 1 else None
                if alone is not None:
                    out.extend(_Draft(typed(w), text, approximations, PINYIN) for _, text, approximations in alone)
                    continue
                typos = finder.typos(w.text)
                if typos:
                    out.append(_Draft(typed(w), w.text, typos, TYPO))
                    continue
                initials = finder.initials_pieces(w.text)
                if initials is None:
                    out.append(i + k)
                else:
                    out.extend(_Draft(typed(w), text, approximations, INITIALS) for text, approximations in initials)
            i = j
            continue
        plain_han = (
            not word.letters
            and not word.negated
            and len(word.alternatives) == 1
            and all(is_han(c) for c in word.text)
            and 2 <= len(word.text) <= MAX_PIECE_SYLLABLES
        )
        if plain_han and missing(word):
            same = finder.same_sound(word.text)
            if same:
                out.append(_Draft(typed(word), word.text, same, SAME_SOUND))
                i += 1
                continue
        out.append(i)
        i += 1
    if all(isinstance(o, int) for o in out):
        return query
    new_terms = list(terms)

    def id_of(text: str) -> int:
        for k, term in enumerate(new_terms):
            if term.text == text:
                return k
        new_terms.append(QueryTerm(text, False, False, True))
        return len(new_terms) - 1

    def ids(texts: Sequence[str]) -> list[int]:
        return sorted(set([id_of(t) for t in texts]))

    new_words: list[QueryWord] = []
    for o in out:
        if isinstance(o, int):
            new_word = words[o]
        else:
            alternatives = [ids(o.typed)] + [ids(a.terms) for a in o.approximations]
            new_word = QueryWord(alternatives, [a.text for a in o.approximations], o.text, False, False, o.kind)
        if new_word not in new_words:
            new_words.append(new_word)
    return AnalyzedQuery(new_terms, new_words)


# --- ranking arithmetic ----------------------------------------------------------------------


def idf(live: int, df: int) -> float:
    """ln(1 + (N - df + 0.5) / (df + 0.5))."""
    n = float(live)
    d = float(df)
    return math.log(1.0 + (n - d + 0.5) / (d + 0.5))


def bayesian_rating(profile: Mapping[str, Any], rating_sum: int, rating_count: int) -> float:
    """(C*m + rating_sum) / (C + rating_count), or m when C + rating_count is 0."""
    c = float(profile["rating_prior_count"])
    mean = float(profile["rating_prior_mean"])
    n = float(rating_count)
    if c + n == 0.0:
        return mean
    return (c * mean + float(rating_sum)) / (c + n)


def smoothed_shop_score(profile: Mapping[str, Any], score: float, reviews: int) -> float:
    """(Cs*ms + score*reviews) / (Cs + reviews), or ms when Cs + reviews is 0."""
    c = float(profile["shop_score_prior_count"])
    mean = float(profile["shop_score_prior_mean"])
    n = float(reviews)
    if c + n == 0.0:
        return mean
    return (c * mean + float(score) * n) / (c + n)


def _saturating_sub(a: int, b: int) -> int:
    return max(_I64_MIN, min(_I64_MAX, a - b))


@dataclass(frozen=True)
class Shaped:
    """One page of a ranking after shaping."""

    positions: list[int]
    """The page's slots: positions in the ranking, in order (a group's: its best member's)."""
    shown: list[int]
    """For each slot, the position of the product shown there: its group's original."""
    collapsed_into: list[int | None]
    """Per position: the better-ranked near-duplicate it collapsed into, if any."""
    scanned_before: int
    """Positions before this were examined filling the pages up to the previous one..."""
    scanned: int
    """...and up to this one."""
    any_left: bool
    """A product neither collapsed nor placed on a page up to this one remains."""

    def collapsed_into_count(self, position: int) -> int:
        limit = self.scanned + DUPLICATE_LOOKAHEAD
        return sum(1 for into in self.collapsed_into[:limit] if into == position)

    def collapsed_on_page(self) -> int:
        return sum(1 for into in self.collapsed_into[self.scanned_before : self.scanned] if into is not None)


def shape_page(
    shops: Sequence[str],
    dhashes: Sequence[int | None],
    originals: Sequence[tuple[int, str]],
    tiers: Sequence[int],
    page: int,
    page_size: int,
    cap: int,
    max_distance: int | None,
) -> Shaped:
    """Page `page` of a ranking whose products belong to `shops`, have hero-image `dhashes`,
    were listed at `originals` (listed_at_s, product_id) and sit in `tiers` (one each per rank).

    Near-duplicates first (unless `max_distance` is None): in rank order, a product whose dHash
    is within `max_distance` bits of a better-ranked kept product's collapses into the
    best-ranked such product (the group's slot) and appears on no page; products without a
    hero image never collapse. Then pages are filled greedily in rank order with at most `cap`
    slots of one shop (0: no cap); a slot over its shop's cap waits for the next page. Each
    slot of the page shows its group's original: of the slot and the members of its tier up to
    DUPLICATE_LOOKAHEAD positions past the last position examined, the earliest listed (then
    the smallest product id).
    """
    collapsed_into: list[int | None] = [None] * len(shops)
    if max_distance is not None:
        kept: list[tuple[int, int]] = []
        for i, dhash in enumerate(dhashes):
            if dhash is None:
                continue
            into = next((position for other, position in kept if (dhash ^ other).bit_count() <= max_distance), None)
            if into is None:
                kept.append((dhash, i))
            else:
                collapsed_into[i] = into
    placed = [into is not None for into in collapsed_into]
    first_open = 0
    scanned = 0
    for p in range(page + 1):
        on_page: list[int] = []
        per_shop: dict[str, int] = {}
        i = first_open
        while i < len(shops) and len(on_page) < page_size:
            if not placed[i]:
                count = per_shop.get(shops[i], 0)
                if cap == 0 or count < cap:
                    per_shop[shops[i]] = count + 1
                    placed[i] = True
                    on_page.append(i)
            i += 1
        scanned_before, scanned = scanned, max(scanned, i)
        while first_open < len(shops) and placed[first_open]:
            first_open += 1
        if p == page:
            limit = min(scanned + DUPLICATE_LOOKAHEAD, len(shops))
            shown = [
                min(
                    (
                        i
                        for i in range(slot, limit)
                        if i == slot or (collapsed_into[i] == slot and tiers[i] == tiers[slot])
                    ),
                    key=lambda i: originals[i],
                )
                for slot in on_page
            ]
            return Shaped(on_page, shown, collapsed_into, scanned_before, scanned, first_open < len(shops))
    raise AssertionError("the loop returns on the last page")


# --- the engine --------------------------------------------------------------------------------


@dataclass
class _Shop:
    record: dict[str, Any]
    folded_name: str
    name_tokens: list[str]


@dataclass
class _Document:
    """A product's per-field term frequencies and field lengths, as the index stores them."""

    tf: dict[str, tuple[int, int, int]]
    lens: tuple[int, int, int]


@dataclass
class _Product:
    record: dict[str, Any]
    title_tokens: list[str]
    brand_tokens: list[str]
    #: The title's phrases (`Analyzer.phrases`), repeats kept.
    title_phrases: list[str]
    #: Built on first use; forgotten whenever a shop changes (its name is a field).
    document: _Document | None = None


@dataclass
class _Candidate:
    product: _Product
    first_phase: float
    exact_shop: bool
    final_score: float | None = None

    @property
    def product_id(self) -> str:
        return str(self.product.record["product_id"])


def _validate(request: Mapping[str, Any]) -> None:
    """The rules of a search request, in the order the engine checks them."""
    violations: list[tuple[str, str]] = []
    if len(request["query"]) > MAX_QUERY_CHARS:
        violations.append(("query", f"must be at most {MAX_QUERY_CHARS} characters"))
    if _is_blank(request["query"]) and not (request["category_ids"] or request["shop_ids"]):
        violations.append(("query", "is required unless filter.category_ids or filter.shop_ids is set"))
    if not 1 <= request["page_size"] <= MAX_PAGE_SIZE:
        violations.append(("page_size", "must be 1-100"))
    low, high = request["min_price_fen"], request["max_price_fen"]
    for field, price in (("filter.min_price_fen", low), ("filter.max_price_fen", high)):
        if price is not None and price < 0:
            violations.append((field, "must be >= 0"))
    if low is not None and high is not None and low > high:
        violations.append(("filter.max_price_fen", "must be >= filter.min_price_fen"))
    if violations:
        message = "invalid argument: " + "; ".join(f"{field}: {rule}" for field, rule in violations)
        raise InvalidArgument(message, violations)


class ReferenceSearchEngine:
    """The search index of `xiaodian._core.SearchEngine`, written for clarity, not speed."""

    def __init__(
        self,
        analysis: str = "full",
        negating_modifiers: Sequence[str] = DEFAULT_NEGATING_MODIFIERS,
        approximate: bool = True,
    ) -> None:
        self._analyzer = Analyzer(analysis, negating_modifiers)
        #: Approximate matching (pinyin, initials, same sound, typos); off for comparisons.
        self.approximate = approximate
        self._shops: dict[str, _Shop] = {}
        self._products: dict[str, _Product] = {}

    # --- writes

    def upsert_shops(self, shops: Iterable[Mapping[str, Any]]) -> None:
        """Creates or replaces shops; a renamed shop's products are searched under the new name."""
        for shop in shops:
            record = {key: shop[key] for key in _SHOP_KEYS}
            name = record["name"]
            self._shops[record["shop_id"]] = _Shop(record, fold_name(name), self._analyzer.tokens(name))
        for product in self._products.values():
            product.document = None

    def upsert_products(self, products: Iterable[Mapping[str, Any]]) -> None:
        """Creates or replaces products; raises FailedPrecondition, writing nothing, when one
        names an unknown shop."""
        records = [{key: product[key] for key in _PRODUCT_KEYS} for product in products]
        for record in records:
            if record["shop_id"] not in self._shops:
                raise FailedPrecondition(
                    f"failed precondition: product {record['product_id']} names unknown shop {record['shop_id']}"
                )
        for record in records:
            self._products[record["product_id"]] = _Product(
                record,
                self._analyzer.tokens(record["title"]),
                self._analyzer.tokens(record["brand"]),
                self._analyzer.phrases(record["title"]),
            )

    def delete_products(self, product_ids: Iterable[str]) -> int:
        """Removes products; returns how many were present."""
        deleted = 0
        for product_id in product_ids:
            if self._products.pop(product_id, None) is not None:
                deleted += 1
        return deleted

    # --- reads

    def product_count(self) -> int:
        return len(self._products)

    def shop_count(self) -> int:
        return len(self._shops)

    def tokens(self, text: str) -> list[str]:
        return self._analyzer.tokens(text)

    def suggest(self, prefix: str, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` completions of `prefix` (`xiaodian.reference.suggest`), from the
        products as they are now."""
        from xiaodian.reference.suggest import ReferenceSuggester

        return ReferenceSuggester(self).suggest(prefix, limit)

    def query_terms(self, text: str) -> list[tuple[str, bool]]:
        return self._analyzer.query_terms(text)

    def query_words(self, text: str, synonyms: Sequence[Sequence[str]] = ()) -> list[list[list[str]]]:
        return self._analyzer.query_words(text, synonyms)

    def _document(self, product: _Product) -> _Document:
        if product.document is None:
            product.document = self._analyse(product)
        return product.document

    def _analyse(self, product: _Product) -> _Document:
        fields = (product.title_tokens, self._shops[product.record["shop_id"]].name_tokens, product.brand_tokens)
        tf: dict[str, list[int]] = {}
        for f, tokens in enumerate(fields):
            for token in tokens:
                counts = tf.setdefault(token, [0, 0, 0])
                counts[f] = min(counts[f] + 1, MAX_FIELD_COUNT)
        title, shop_name, brand = (min(len(tokens), MAX_FIELD_COUNT) for tokens in fields)
        return _Document({t: (c[0], c[1], c[2]) for t, c in tf.items()}, (title, shop_name, brand))

    def search(self, profile: Mapping[str, Any], request: Mapping[str, Any]) -> dict[str, Any]:
        """Runs one search with a (validated) profile dict and a request dict."""
        sort = request["sort"]
        if sort not in SORTS:
            raise InvalidArgument(f"unknown sort '{sort}'", [("sort", "unknown sort")])
        _validate(request)
        return _Search(self, profile, request).run()


class _SearchedIndex:
    """The index as approximate matching sees it (`Lookup`): through the fields a search
    searches."""

    def __init__(self, search: _Search) -> None:
        self.search = search

    def df(self, term: str) -> int:
        return self.search.df.get(term, 0)

    def has_phrase(self, phrase: str) -> bool:
        return phrase in self.search.title_phrases or (
            self.search.engine._analyzer.is_dictionary_word(phrase) and self.search.df.get(phrase, 0) > 0
        )

    def products(self, term: str) -> set[str]:
        return {product_id for product_id, doc in self.search.docs.items() if self.search.contains(doc, term)}


class _Search:
    """One search over a snapshot of the engine."""

    def __init__(self, engine: ReferenceSearchEngine, profile: Mapping[str, Any], request: Mapping[str, Any]):
        self.engine = engine
        self.profile = profile
        self.request = request
        query: str = request["query"]
        self.weights = (
            float(profile["title_weight"]),
            float(profile["shop_name_weight"]),
            float(profile["brand_weight"]),
        )
        self.searched = tuple(w > 0.0 for w in self.weights)
        self.k1 = float(profile["bm25_k1"])
        self.b = float(profile["bm25_b"])
        self.docs = {product_id: engine._document(p) for product_id, p in engine._products.items()}
        self.live = len(self.docs)
        self.total_len = tuple(sum(d.lens[f] for d in self.docs.values()) for f in range(3))
        self.df = self.document_frequencies()
        analyzed = engine._analyzer.analyze_query(query, profile["synonyms"])
        self.title_phrases = {phrase for p in engine._products.values() for phrase in p.title_phrases}
        if engine.approximate:
            terms = {text for doc in self.docs.values() for text in doc.tf}
            sound = SoundIndex(engine._analyzer, terms, self.title_phrases)
            analyzed = approximate(sound, analyzed, _SearchedIndex(self))
        self.terms, self.words = analyzed.terms, analyzed.words
        synonym_weight = float(profile["synonym_weight"])
        approximate_weight = float(profile["approximate_weight"])
        self.weight = {
            term.text: synonym_weight if term.synonym else approximate_weight if term.approximate else 1.0
            for term in self.terms
        }
        self.browse = _is_blank(query)
        self.sort: str = "sales" if self.browse and request["sort"] == "relevance" else request["sort"]
        self.idf = {term.text: idf(self.live, self.df.get(term.text, 0)) for term in self.terms}
        folded_query = fold_name(query)
        self.exact_shops = (
            set()
            if self.browse
            else {shop_id for shop_id, shop in engine._shops.items() if shop.folded_name == folded_query}
        )

    # --- the first phase

    def document_frequencies(self) -> dict[str, int]:
        """df: the number of live products containing each term in a searched field (the
        terms of no such product left out)."""
        df: dict[str, int] = {}
        for doc in self.docs.values():
            for text, tf in doc.tf.items():
                if any(tf[f] > 0 and self.searched[f] for f in range(3)):
                    df[text] = df.get(text, 0) + 1
        return df

    def contains(self, doc: _Document, text: str) -> bool:
        """True when a searched field of the document contains the term."""
        tf = doc.tf.get(text)
        return tf is not None and any(tf[f] > 0 and self.searched[f] for f in range(3))

    def factor(self, f: int, length: int) -> float:
        """w_f / ((1 - b) + b * (len / avg_f)); 0 for fields that are not searched."""
        if self.weights[f] <= 0.0 or self.live == 0 or self.total_len[f] == 0:
            return 0.0
        avg = float(self.total_len[f]) / float(self.live)
        return self.weights[f] / ((1.0 - self.b) + self.b * (float(length) / avg))

    def term_score(self, text: str, doc: _Document) -> float:
        tf = doc.tf[text]
        tfw = 0.0
        for f in range(3):
            if tf[f] > 0 and self.searched[f]:
                tfw += float(tf[f]) * self.factor(f, doc.lens[f])
        if tfw == 0.0:
            # Only with k1 = 0 and weights so small that they underflow: no contribution
            # (instead of 0 / 0).
            return 0.0
        return self.idf[text] * (tfw / (self.k1 + tfw))

    def first_phase(self, product_id: str) -> tuple[float, list[str]]:
        """First-phase score and the matched terms, in query-term order."""
        doc = self.docs[product_id]
        score = 0.0
        matched: list[str] = []
        for term in self.terms:
            if self.contains(doc, term.text):
                score += self.weight[term.text] * self.term_score(term.text, doc)
                matched.append(term.text)
        return score, matched

    # --- retrieval

    def has(self, doc: _Document, alternative: list[int]) -> bool:
        return all(self.contains(doc, self.terms[i].text) for i in alternative)

    def words_matched(self, product_id: str) -> int:
        """How many query words the product has (each term of one of the word's alternatives
        in a searched field)."""
        doc = self.docs[product_id]
        return sum(1 for word in self.words if any(self.has(doc, alternative) for alternative in word.alternatives))

    def matched_synonyms(self, product_id: str) -> list[str]:
        """The synonyms through which the product has a query word it lacks as typed (words
        matched approximately left out)."""
        doc = self.docs[product_id]
        found = []
        for word in self.words:
            if not word.negated and word.approximate is None and not self.has(doc, word.alternatives[0]):
                for alternative, synonym in zip(word.alternatives[1:], word.synonyms, strict=True):
                    if self.has(doc, alternative):
                        found.append(synonym)
                        break
        return found

    def approximate_matches(self, product_id: str) -> list[tuple[str, str, str]]:
        """The query words the product has only approximately: (the word, the first of its
        approximations the product has, their kind)."""
        doc = self.docs[product_id]
        found = []
        for word in self.words:
            if word.approximate is not None:
                for alternative, matched in zip(word.alternatives[1:], word.synonyms, strict=True):
                    if self.has(doc, alternative):
                        found.append((word.text, matched, word.approximate))
                        break
        return found

    def negated_words(self, product_id: str) -> list[str]:
        """The query words the product lacks but has under a negating modifier."""
        doc = self.docs[product_id]
        return [
            word.text
            for word in self.words
            if not word.negated
            and not any(self.has(doc, alternative) for alternative in word.alternatives)
            and any(self.contains(doc, modifier + word.text) for modifier in self.engine._analyzer.modifiers)
        ]

    def matches(self, product_id: str, tier: int, min_words: int) -> bool:
        """Tier 1: every word (a blank query: every product; a query with no word: none);
        tier 2: at least `min_words` words, not all."""
        if self.browse:
            return tier == 1
        matched = self.words_matched(product_id)
        if tier == 1:
            return bool(self.words) and matched == len(self.words)
        return min_words <= matched < len(self.words)

    def accepts(self, record: Mapping[str, Any]) -> bool:
        r = self.request
        if r["category_ids"] and record["category_id"] not in r["category_ids"]:
            return False
        if r["shop_ids"] and record["shop_id"] not in r["shop_ids"]:
            return False
        if r["min_price_fen"] is not None and record["price_fen"] < r["min_price_fen"]:
            return False
        if r["max_price_fen"] is not None and record["price_fen"] > r["max_price_fen"]:
            return False
        return not (r["in_stock_only"] and record["stock"] <= 0)

    def retrieve(self, tier: int, min_words: int = 0) -> list[_Candidate]:
        candidates = []
        for product_id, product in self.engine._products.items():
            if self.matches(product_id, tier, min_words) and self.accepts(product.record):
                first_phase = 0.0 if self.browse else self.first_phase(product_id)[0]
                exact = product.record["shop_id"] in self.exact_shops
                candidates.append(_Candidate(product, first_phase, exact))
        return candidates

    # --- ordering

    def order_key(self, c: _Candidate) -> tuple[Any, ...]:
        """The first-phase (relevance) order, or the order of the requested sort."""
        record = c.product.record
        if self.sort == "relevance":
            return (not c.exact_shop, -c.first_phase, c.product_id)
        if self.sort == "sales":
            key: float = -record["sales_30d"]
        elif self.sort == "newest":
            key = -record["listed_at_s"]
        elif self.sort == "price_descending":
            key = -record["price_fen"]
        elif self.sort == "price_ascending":
            key = record["price_fen"]
        else:  # rating
            key = -bayesian_rating(self.profile, record["rating_sum"], record["rating_count"])
        return (key, -c.first_phase, c.product_id)

    def ranking(self, candidates: list[_Candidate], depth: int) -> list[_Candidate]:
        """Every match of a tier in final order; in relevance order the first `depth` re-ranked."""
        ranked = sorted(candidates, key=self.order_key)
        if self.sort != "relevance":
            return ranked
        head = ranked[:depth]
        for c in head:
            c.final_score = self.second_phase(c, explain=False)[0]
        head.sort(key=lambda c: (not c.exact_shop, -(c.final_score or 0.0), c.product_id))
        return head + ranked[depth:]

    # --- the second phase

    def second_phase(self, c: _Candidate, explain: bool) -> tuple[float, list[dict[str, Any]]]:
        p = self.profile
        record = c.product.record
        shop = self.engine._shops[record["shop_id"]].record
        rating = bayesian_rating(p, record["rating_sum"], record["rating_count"])
        shop_score = smoothed_shop_score(p, shop["experience_score"], shop["experience_review_count"])
        sales = math.log1p(float(max(record["sales_30d"], 0)))
        additive = [
            ("text", c.first_phase, float(p["text_weight"])),
            ("hero_quality", float(record["hero_quality"]), float(p["hero_quality_weight"])),
            ("rating", rating, float(p["rating_weight"])),
            ("shop_score", shop_score, float(p["shop_score_weight"])),
            ("sales", sales, float(p["sales_weight"])),
        ]
        score = 0.0
        for _, value, weight in additive:
            score += weight * value
        brand = float(p["brand_multiplier"]) if shop["is_brand"] else 1.0
        window_s = int(p["new_merchant_window_days"]) * SECONDS_PER_DAY
        is_new = _saturating_sub(self.request["now_s"], shop["opened_at_s"]) < window_s
        new_merchant = float(p["new_merchant_multiplier"]) if is_new else 1.0
        score = score * brand * new_merchant
        signals: list[dict[str, Any]] = []
        if explain:
            for signal, value, weight in additive:
                signals.append({"signal": signal, "value": value, "weight": weight, "contribution": weight * value})
            for signal, factor in (("brand_multiplier", brand), ("new_merchant_multiplier", new_merchant)):
                signals.append({"signal": signal, "value": factor, "weight": 1.0, "contribution": factor})
            if c.exact_shop:
                signals.append({"signal": "exact_shop_match", "value": 1.0, "weight": 1.0, "contribution": 0.0})
        return score, signals

    # --- the answer

    def raw_score(self, c: _Candidate) -> float:
        """Final once re-ranked or under another sort than relevance, else first phase."""
        if c.final_score is not None or self.sort != "relevance":
            return self.second_phase(c, explain=False)[0]
        return c.first_phase

    def hit(self, c: _Candidate, tier: int, score: float) -> dict[str, Any]:
        record = c.product.record
        shop = self.engine._shops[record["shop_id"]].record
        explanation = None
        if self.request["explain"]:
            signals = self.second_phase(c, True)[1] if c.final_score is not None or self.sort != "relevance" else []
            explanation = {
                "first_phase_score": c.first_phase,
                "matched_terms": self.first_phase(c.product_id)[1],
                "matched_synonyms": self.matched_synonyms(c.product_id),
                "negated_words": self.negated_words(c.product_id),
                "approximate_matches": self.approximate_matches(c.product_id),
                "tier": tier,
                "signals": signals,
            }
        return {
            "product_id": record["product_id"],
            "shop_id": record["shop_id"],
            "title": record["title"],
            "shop_name": shop["name"],
            "brand": record["brand"],
            "price_fen": record["price_fen"],
            "sales_30d": record["sales_30d"],
            "rating": bayesian_rating(self.profile, record["rating_sum"], record["rating_count"]),
            "score": score,
            "tier": tier,
            "explanation": explanation,
        }

    def run(self) -> dict[str, Any]:
        page_size = int(self.request["page_size"])
        depth = int(self.profile["rerank_depth"])
        word_count = len(self.words)
        min_words = -(-2 * word_count // 3)  # ⌈2W/3⌉
        first = self.retrieve(tier=1)
        second_tier_searched = not self.browse and min_words < word_count and len(first) < page_size
        second = self.retrieve(tier=2, min_words=min_words) if second_tier_searched else []
        # Each tier ranked on its own, the re-rank depth going to the first tier first.
        ranked = [(c, 1) for c in self.ranking(first, depth)]
        ranked += [(c, 2) for c in self.ranking(second, depth - min(depth, len(first)))]
        shaped = shape_page(
            [c.product.record["shop_id"] for c, _ in ranked],
            [c.product.record["dhash"] for c, _ in ranked],
            [(c.product.record["listed_at_s"], c.product_id) for c, _ in ranked],
            [tier for _, tier in ranked],
            int(self.request["page"]),
            page_size,
            int(self.request["max_per_shop"]),
            None if self.request["keep_duplicates"] else int(self.profile["duplicate_max_distance"]),
        )
        # The scores shown: under relevance, the lowest raw score from the top down to each.
        shown: dict[int, float] = {}
        if self.sort == "relevance":
            above = math.inf
            for i in range(shaped.positions[-1] + 1 if shaped.positions else 0):
                above = min(above, self.raw_score(ranked[i][0]))
                shown[i] = above
        else:
            shown = {i: self.raw_score(ranked[i][0]) for i in shaped.positions}
        hits = []
        for slot, original in zip(shaped.positions, shaped.shown, strict=True):
            # The group's original, with its slot's tier and score.
            hit = self.hit(ranked[original][0], ranked[slot][1], shown[slot])
            hit["collapsed_duplicates"] = shaped.collapsed_into_count(slot)
            hits.append(hit)
        return {
            "hits": hits,
            "total_matched": len(first) + len(second),
            "first_tier_matched": len(first),
            "second_tier_matched": len(second),
            "second_tier_searched": second_tier_searched,
            "has_more": shaped.any_left,
            "collapsed_duplicates": shaped.collapsed_on_page(),
        }

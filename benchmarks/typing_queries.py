"""Queries as shoppers type them (issue 24) for the relevance suite (`benchmarks/relevance.py`):
pinyin, initials, mixed script, same-sound characters, Latin typos, and Suggest prefixes.

Like the suite's other queries, these are built from the demo generator's truth alone (and the
catalog's text, to make sure a misspelling is one: it must not occur in the catalog), never from
either engine's output, deterministically from the `random.Random` they are given. Pinyin
readings are pypinyin's (`lazy_pinyin`, which reads a word with its phrase dictionary: 长款 is
changkuan), toneless, ü written v.

The pinyin, initials, mixed-script and same-sound classes write the Chinese words of an exact
query: the material and the type as a title writes them (羊绒围巾), both all Chinese (POLO衫,
316不锈钢 are left out), no imitation (仿羊绒), drawn from the catalog's distinct (material
word, type word) pairs; the Latin-typo class misspells a brand's or a model's Latin word before
a type. Each is graded exactly like the query it stands for (the same `JudgedQuery`
attributes). See `relevance.py`'s docstring for what each class is; Suggest prefixes are
`PrefixQuery`s, scored by whether the completion they were cut from is among the first 5
suggestions.
"""

from __future__ import annotations

import functools
import random
import re
import string
import unicodedata
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pypinyin import Style, lazy_pinyin, pinyin
from xiaodian.demo.catalog import (
    BRAND_LATIN_NAMES,
    CATEGORIES,
    IMITATION_MODIFIERS,
    MARKETING_WORDS,
    SHOP_ADJECTIVES,
    SHOP_CITIES,
    SHOP_NICKNAMES,
    SHOP_SUFFIXES,
    ProductTruth,
)

from benchmarks.relevance import JudgedQuery, material_ok

#: Initials queries need at least this many letters (two words of two characters): a lone
#: word's two initials (yr) could be any of hundreds of words.
MIN_INITIALS_LETTERS = 4
#: A Latin word is misspelt once from this many letters, twice from `TWO_TYPOS_LETTERS`
#: (counted in the word as typed: what issue 24's rule counts).
ONE_TYPO_LETTERS = 5
TWO_TYPOS_LETTERS = 9
#: Suggest: how many completions count, and the shortest prefixes.
SUGGESTIONS = 5
MIN_PREFIX_CHARS = 2
MIN_PREFIX_LETTERS = 3
#: The longest prefix Suggest takes (its request's limit).
MAX_PREFIX_CHARS = 30
#: Characters a same-sound replacement never uses: a negating modifier would turn 羊绒 into 非绒.
_NEGATING_CHARACTERS = frozenset("".join(IMITATION_MODIFIERS))
_LETTERS = re.compile(r"[A-Za-z]+")
#: A model word: five letters or more and the digits right after them (iPhone15, MagSafe).
_MODEL = re.compile(r"([A-Za-z]{5,})(\d*)")


# Text


def is_han(text: str) -> bool:
    """Whether `text` is non-empty and all CJK unified ideographs (U+4E00-U+9FFF)."""
    return bool(text) and all("\u4e00" <= ch <= "\u9fff" for ch in text)


def fold(text: str) -> str:
    """NFKC (full-width letters and digits as ASCII), case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


def key(text: str) -> str:
    """What a Suggest key keeps of a text: its letters, digits and Han characters, folded."""
    return "".join(ch for ch in fold(text) if ch.isalnum())


def syllables(word: str) -> list[str]:
    """The toneless pinyin of each character of a Chinese word, read with pypinyin's phrase
    dictionary (ü written v): 羊绒 → [yang, rong]."""
    return [s.lower() for s in lazy_pinyin(word, style=Style.NORMAL)]


def full_pinyin(words: Sequence[str], separator: str = "") -> str:
    """Each word's syllables run together, the words apart by `separator`: yangrong weijin."""
    return separator.join("".join(syllables(word)) for word in words)


def initials(words: Sequence[str]) -> str:
    """The first letter of every syllable: 羊绒围巾 → yrwj (zh, ch and sh as z, c and s)."""
    return "".join(s[0] for word in words for s in syllables(word))


def first_reading(ch: str) -> str:
    """A character's first toneless reading of pypinyin's (ü as v)."""
    return str(pinyin(ch, style=Style.NORMAL, heteronym=True)[0][0]).lower()


# Judged queries


@dataclass(frozen=True)
class _Core:
    """A distinct material + type pair of the catalog, with what a query of it names."""

    material_word: str
    type_word: str
    product_type: str
    material: str
    imitation: bool

    def query(self, query_class: str, text: str) -> JudgedQuery:
        return JudgedQuery(
            query_class, text, product_type=self.product_type, material=self.material, imitation=self.imitation
        )


def _cores(truths: Iterable[ProductTruth], imitations: bool = False) -> list[_Core]:
    """The catalog's distinct all-Chinese (material word, type word) pairs, sorted (without
    imitations unless `imitations`)."""
    cores = {
        _Core(t.material_word, t.type_word, t.product_type, t.material, t.imitation)
        for t in truths
        if material_ok(t)
        and (imitations or not t.imitation)
        and t.material_word is not None
        and t.material is not None
        and is_han(t.material_word)
        and is_han(t.type_word)
    }
    return sorted(cores, key=lambda c: (c.material_word, c.type_word))


def _sample(rng: random.Random, items: Sequence[_Core], count: int) -> list[_Core]:
    return rng.sample(list(items), min(count, len(items)))


def pinyin_queries(truths: Sequence[ProductTruth], rng: random.Random, per_class: int) -> list[JudgedQuery]:
    """pinyin_full (yangrongweijin), pinyin_spaced (yangrong weijin by word, a third of them
    yang rong wei jin by syllable), initials (yrwj; 4 letters or more) and mixed_script
    (羊绒weijin): each `per_class` distinct material + type pairs. Imitations (仿羊绒) are left
    out: in letters their negating modifier is a syllable like any other (fangyangrong), and
    reading negation from pinyin is not what these classes measure."""
    cores = _cores(truths)
    queries = []
    for core in _sample(rng, cores, per_class):
        queries.append(core.query("pinyin_full", full_pinyin([core.material_word, core.type_word])))
    for core in _sample(rng, cores, per_class):
        words = [core.material_word, core.type_word]
        if rng.random() < 1 / 3:
            text = " ".join(s for word in words for s in syllables(word))
        else:
            text = full_pinyin(words, " ")
        queries.append(core.query("pinyin_spaced", text))
    long_enough = [c for c in cores if len(initials([c.material_word, c.type_word])) >= MIN_INITIALS_LETTERS]
    for core in _sample(rng, long_enough, per_class):
        queries.append(core.query("initials", initials([core.material_word, core.type_word])))
    for core in _sample(rng, cores, per_class):
        queries.append(core.query("mixed_script", core.material_word + full_pinyin([core.type_word])))
    return queries


def catalog_text(titles: Iterable[str], brands: Iterable[str], shop_names: Iterable[str]) -> str:
    """Every title, brand and shop name, one a line, folded: what a misspelling must not be in."""
    return fold("\n".join([*titles, *brands, *shop_names]))


@functools.cache
def _common_characters() -> tuple[str, ...]:
    """The common characters, by code point: GB2312's level 1 (its 3,755 常用字, the most
    frequent characters by the standard's count) and every Han character of the demo
    generator's vocabulary."""
    common = set()
    for high in range(0xB0, 0xD8):  # level 1: rows 16-55
        for low in range(0xA1, 0xFF):
            try:
                common.add(bytes((high, low)).decode("gb2312"))
            except UnicodeDecodeError:
                continue  # the unused end of row 55
    vocabulary = [
        *(
            word
            for category in CATEGORIES
            for words in (
                category.shop_words,
                category.nouns,
                category.materials,
                category.attributes,
                category.audiences,
                category.brands,
            )
            for word in words
        ),
        *MARKETING_WORDS,
        *SHOP_NICKNAMES,
        *SHOP_ADJECTIVES,
        *SHOP_CITIES,
        *SHOP_SUFFIXES,
    ]
    common.update(ch for word in vocabulary for ch in word if is_han(ch))
    return tuple(sorted(common))


@functools.cache
def homophones() -> dict[str, tuple[str, ...]]:
    """The common characters (`_common_characters`) by their first reading, by code point."""
    by_reading: dict[str, list[str]] = defaultdict(list)
    for ch in _common_characters():
        by_reading[first_reading(ch)].append(ch)
    return {reading: tuple(chars) for reading, chars in by_reading.items()}


def same_sound_word(word: str, rng: random.Random, text: str) -> str | None:
    """`word` with one of its characters replaced by a common character whose first reading is
    the one the word gives it, such that the new word is nowhere in `text`: 羊绒 → 洋绒.
    Positions and candidates are tried in an order drawn from `rng`, candidates sorted by code
    point first; None when no replacement is absent."""
    readings = syllables(word)
    positions = list(range(len(word)))
    rng.shuffle(positions)
    for position in positions:
        original = word[position]
        candidates = [
            ch for ch in homophones().get(readings[position], ()) if ch != original and ch not in _NEGATING_CHARACTERS
        ]
        rng.shuffle(candidates)
        for ch in candidates:
            replaced = word[:position] + ch + word[position + 1 :]
            if replaced not in text:
                return replaced
    return None


def same_sound_queries(
    truths: Sequence[ProductTruth], text: str, rng: random.Random, per_class: int
) -> list[JudgedQuery]:
    """`per_class` material + type pairs, each with one of its two words (of 2+ characters: a
    lone character sounding like another is another word, 钛 and 胎) sounding the same but
    written with one other character, a word the catalog (`text`) never has: 洋绒围巾, 羊绒围金.
    Imitations are left out: the engine leaves a negated word (羊贸 of 仿羊贸) as typed."""
    queries: list[JudgedQuery] = []
    cores = _cores(truths, imitations=False)
    for core in rng.sample(cores, len(cores)):
        if len(queries) == per_class:
            break
        words = [core.material_word, core.type_word]
        order = [0, 1] if rng.random() < 0.5 else [1, 0]
        for index in order:
            if len(words[index]) < 2:
                continue
            replaced = same_sound_word(words[index], rng, text)
            if replaced is not None:
                words[index] = replaced
                queries.append(core.query("same_sound", "".join(words)))
                break
    return queries


def osa_distance(a: str, b: str) -> int:
    """Edit distance with adjacent transpositions (optimal string alignment): deleting,
    inserting or substituting a letter, or swapping two neighbours, is one edit each."""
    rows = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        rows[i][0] = i
    for j in range(len(b) + 1):
        rows[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1)
    return rows[len(a)][len(b)]


def typo_edits(word: str, rng: random.Random) -> int:
    """How many edits a typo of `word` makes: one, or for 9 letters and more one or two."""
    return 1 if len(word) < TWO_TYPOS_LETTERS else rng.choice((1, 2))


def typo(word: str, edits: int, rng: random.Random, taken: set[str]) -> str | None:
    """`word` (letters only) misspelt by `edits` random edits (deletion, insertion, substitution
    or a swap of neighbours; a new letter takes its neighbour's case), at exactly that edit
    distance (case aside), still long enough for that many (5 letters for one, 9 for two), and
    no word of `taken` (folded); None after 200 tries."""
    minimum = ONE_TYPO_LETTERS if edits == 1 else TWO_TYPOS_LETTERS
    for _ in range(200):
        letters = list(word)
        for _ in range(edits):
            operation = rng.choice(("delete", "insert", "substitute", "transpose"))
            position = rng.randrange(len(letters))
            new = rng.choice(string.ascii_lowercase)
            if letters[min(position, len(letters) - 1)].isupper():
                new = new.upper()
            if operation == "delete":
                del letters[position]
            elif operation == "insert":
                letters.insert(position, new)
            elif operation == "substitute":
                letters[position] = new
            elif position + 1 < len(letters):
                letters[position], letters[position + 1] = letters[position + 1], letters[position]
        candidate = "".join(letters)
        if (
            len(candidate) >= minimum
            and osa_distance(candidate.casefold(), word.casefold()) == edits
            and candidate.casefold() not in taken
        ):
            return candidate
    return None


def latin_words(text: str) -> set[str]:
    """The letter runs of a (folded) text: the Latin words a typo must not be."""
    return set(_LETTERS.findall(text))


def _latin_brand(brand: str) -> str | None:
    """How titles write a brand in Latin letters: the brand itself (UNIQLO, New Balance), or
    the Latin name some titles write right after it (鄂尔多斯ERDOS)."""
    if not any(is_han(ch) for ch in brand):
        return brand
    return BRAND_LATIN_NAMES.get(brand)


@dataclass(frozen=True, order=True)
class _LatinCandidate:
    """A Latin word to misspell in `written` (a brand or model as written), and the query it
    makes with a type: graded by the brand, or by the model among the title's words."""

    written: str
    start: int
    end: int
    product_type: str
    brand: str | None = None
    attribute: str | None = None


def _latin_candidates(truths: Sequence[ProductTruth]) -> list[_LatinCandidate]:
    """Brand + type pairs of the catalog whose brand has a Latin word of 5 letters or more, and
    model + type pairs (a model word, 5 letters or more and its digits, among a title's words).
    A Chinese brand's Latin name is written by some of its titles only: the pair is kept when
    enough of them write it for every grade-2 place of the top 10 (min(10, its products))."""
    products: Counter[tuple[str, str]] = Counter()
    written: Counter[tuple[str, str]] = Counter()
    models: set[tuple[str, str]] = set()
    for truth in truths:
        for word in truth.title_words:
            if truth.brand is not None and fold(word).startswith(fold(truth.brand)):
                continue
            for match in _MODEL.finditer(unicodedata.normalize("NFKC", word)):
                models.add((match.group(0), truth.product_type))
        if truth.brand is None:
            continue
        products[truth.brand, truth.product_type] += 1
        latin = BRAND_LATIN_NAMES.get(truth.brand)
        if latin is not None and any(fold(latin) in fold(word) for word in truth.title_words):
            written[truth.brand, truth.product_type] += 1
    candidates = []
    for (brand, product_type), count in sorted(products.items()):
        latin = _latin_brand(brand)
        if latin is None or (latin != brand and written[brand, product_type] < min(10, count)):
            continue
        for match in _LETTERS.finditer(latin):
            if match.end() - match.start() >= ONE_TYPO_LETTERS:
                candidates.append(_LatinCandidate(latin, match.start(), match.end(), product_type, brand=brand))
    for model, product_type in sorted(models):
        letters = _MODEL.fullmatch(model)
        assert letters is not None
        candidates.append(_LatinCandidate(model, 0, letters.end(1), product_type, attribute=model))
    return candidates


def latin_typo_queries(
    truths: Sequence[ProductTruth], text: str, rng: random.Random, per_class: int
) -> list[JudgedQuery]:
    """`per_class` brand + type or model + type queries with the brand's or model's Latin word
    misspelt into a word the catalog (`text`) does not have: lululemn 瑜伽裤, iPhnoe15 手机壳."""
    taken = latin_words(text)
    queries: list[JudgedQuery] = []
    candidates = _latin_candidates(truths)
    for candidate in rng.sample(candidates, len(candidates)):
        if len(queries) == per_class:
            break
        word = candidate.written[candidate.start : candidate.end]
        misspelt = typo(word, typo_edits(word, rng), rng, taken)
        if misspelt is None:
            continue
        written = candidate.written[: candidate.start] + misspelt + candidate.written[candidate.end :]
        queries.append(
            JudgedQuery(
                "latin_typo",
                f"{written} {candidate.product_type}",
                product_type=candidate.product_type,
                brand=candidate.brand,
                attribute=candidate.attribute,
            )
        )
    return queries


def build_typing_queries(
    truths: Sequence[ProductTruth], text: str, rng: random.Random, per_class: int
) -> list[JudgedQuery]:
    """The judged typing classes, in `relevance.TYPING_CLASSES` order (`text`: `catalog_text`)."""
    return [
        *pinyin_queries(truths, rng, per_class),
        *same_sound_queries(truths, text, rng, per_class),
        *latin_typo_queries(truths, text, rng, per_class),
    ]


# Suggest prefixes

PREFIX_SOURCES = ("phrase", "word", "brand", "shop_name")
PREFIX_MATCHES = ("text", "pinyin", "initials")


@dataclass(frozen=True)
class PrefixQuery:
    """A prefix typed toward `completion`: its characters (`match` text), the letters of its
    full pinyin (pinyin) or its initials (initials). `source` says where the completion comes
    from: a title phrase (material + type, 羊绒围巾), a title word (a type: 连衣裙), a brand or
    a shop name."""

    text: str
    completion: str
    source: str
    match: str


class _Completions:
    """The catalog's completions by popularity, each under its text key and (all Han) its
    first full-pinyin spelling and that spelling's initials: the oracle a prefix is checked
    against."""

    def __init__(self, popularity: Mapping[str, int]) -> None:
        self.popularity = dict(popularity)
        self.keys: dict[str, list[tuple[str, str]]] = {match: [] for match in PREFIX_MATCHES}
        for text in self.popularity:
            self.keys["text"].append((key(text), text))
            if is_han(text):
                self.keys["pinyin"].append((full_pinyin([text]), text))
                self.keys["initials"].append((initials([text]), text))
        for entries in self.keys.values():
            entries.sort()

    def completing(self, prefix: str) -> set[str]:
        """Every completion with a key (of any kind) that starts with `prefix`."""
        found = set()
        for entries in self.keys.values():
            index = bisect_left(entries, (prefix, ""))
            while index < len(entries) and entries[index][0].startswith(prefix):
                found.add(entries[index][1])
                index += 1
        return found

    def in_top(self, prefix: str, completion: str) -> bool:
        """Whether `completion` is among the `SUGGESTIONS` most popular completions of `prefix`."""
        ranked = sorted(self.completing(prefix), key=lambda text: (-self.popularity[text], text))
        return completion in ranked[:SUGGESTIONS]


def _popularity(
    truths: Sequence[ProductTruth], shop_names: Mapping[str, str], weights: Mapping[str, int]
) -> dict[str, int]:
    """Each completion's popularity: the sum of 1 + sales over the products that have it (as a
    title word as written, its material or type word, its material + type phrase, its brand, its
    shop's name)."""
    popularity: Counter[str] = Counter()
    for truth in truths:
        texts = {word for word in truth.title_words if key(word)}
        texts.add(truth.type_word)
        if truth.material_word is not None:
            texts.update((truth.material_word, truth.material_word + truth.type_word))
        if truth.brand is not None:
            texts.add(truth.brand)
        texts.add(shop_names[truth.shop_id])
        weight = weights.get(truth.product_id, 1)
        for text in texts:
            popularity[text] += weight
    return dict(popularity)


def _intended(truths: Sequence[ProductTruth], shop_names: Mapping[str, str]) -> dict[str, list[tuple[str, int]]]:
    """The completions a prefix may be cut from, by source, sorted, each with the characters of
    its first word (a phrase's material; 0 when not known)."""
    phrases: dict[str, int] = {}
    words, brands = set(), set()
    for truth in truths:
        if truth.material_word is not None and not truth.imitation and material_ok(truth):
            phrase = truth.material_word + truth.type_word
            if is_han(phrase):
                phrases[phrase] = min(phrases.get(phrase, len(phrase)), len(truth.material_word))
        if is_han(truth.type_word):
            words.add(truth.type_word)
        if truth.brand is not None:
            brands.add(truth.brand)
    shops = {shop_names[truth.shop_id] for truth in truths}
    return {
        "phrase": sorted(phrases.items()),
        "word": [(word, 0) for word in sorted(words)],
        "brand": [(brand, 0) for brand in sorted(brands)],
        "shop_name": [(shop, 0) for shop in sorted(shops)],
    }


def prefixes_of(completion: str, match: str, first_word: int = 0) -> list[str]:
    """Every prefix of the kind `match` that may be typed toward `completion`, shortest first:
    2+ of its characters short of all of them (3+ when none is Han); 3+ letters of its full
    pinyin short of all of them; 3+ of its initials, and into its second word when the first
    has `first_word` characters (its initials alone say too little)."""
    folded = key(completion)
    if match == "text":
        return [
            folded[:n]
            for n in range(MIN_PREFIX_CHARS, len(folded))
            if n >= MIN_PREFIX_LETTERS or any(is_han(ch) for ch in folded[:n])
        ]
    if not is_han(completion):
        return []
    if match == "pinyin":
        spelt = full_pinyin([completion])
        return [spelt[:n] for n in range(MIN_PREFIX_LETTERS, len(spelt))]
    spelt = initials([completion])
    return [spelt[:n] for n in range(max(MIN_PREFIX_LETTERS, first_word + 1), len(spelt) + 1)]


def prefix_queries(
    truths: Sequence[ProductTruth],
    shop_names: Mapping[str, str],
    rng: random.Random,
    count: int,
    weights: Mapping[str, int] | None = None,
) -> list[PrefixQuery]:
    """`count` prefixes (of at most `MAX_PREFIX_CHARS`), spread evenly over the (source,
    match) kinds: for each, a completion drawn from its source and a prefix drawn from those
    for which the completion is among the 5 most popular completions the truth knows of
    (popularity: 1 + sales per product, `weights` by product_id); a completion with no such
    prefix is passed over."""
    intended = _intended(truths, shop_names)
    oracle = _Completions(_popularity(truths, shop_names, weights or {}))
    kinds = [(source, match) for source in PREFIX_SOURCES for match in PREFIX_MATCHES]
    pools = {kind: rng.sample(intended[kind[0]], len(intended[kind[0]])) for kind in kinds}
    queries: list[PrefixQuery] = []
    while len(queries) < count and any(pools.values()):
        for source, match in kinds:
            pool = pools[source, match]
            while pool and len(queries) < count:
                completion, first_word = pool.pop()
                options = [p for p in prefixes_of(completion, match, first_word) if len(p) <= MAX_PREFIX_CHARS]
                rng.shuffle(options)
                chosen = next((p for p in options if oracle.in_top(p, completion)), None)
                if chosen is not None:
                    queries.append(PrefixQuery(chosen, completion, source, match))
                    break
    return queries

"""The executable specification of Suggest (`crates/xiaodian-core/src/rank/suggest.rs`), in plain
Python: completions of a prefix typed in Chinese characters, full pinyin or pinyin initials,
most popular first, computed from the state of a `ReferenceSearchEngine`.

`ReferenceSuggester(engine).suggest(prefix, limit)` gives the dicts of
`xiaodian._core.SearchEngine.suggest` (text, matched_chars, source, match, popularity), and
`tests/search/test_reference_suggest.py` holds the two to that.

Completions:
- title words: the tokens of some live product's title that are Han dictionary words of
  2-MAX_WORD_CHARS characters or words of 2 or more letters (`str.isalpha`; Rust's
  `char::is_alphabetic` also counts a few marks and letter numbers);
- title phrases (`Analyzer.phrases`: dictionary words in a row, 羊绒围巾), counted once per
  product; a phrase that is also a title word counts the larger popularity;
- shop names (folded: normalised, whitespace runs as one space) of shops with live products;
- brands (folded) of live products, but blank ones.
A completion's popularity is the sum of 1 + max(sales_30d, 0) over the live products that have
it. One text is one completion: from several sources, the most popular source names it (ties:
title, shop name, brand).

Keys: a completion's text without whitespace and punctuation (`key_of`: its alphanumeric
characters); when that is all Han, also each full-pinyin spelling (syllables run together,
every reading combination up to MAX_SPELLINGS, the first readings first) and each spelling's
initials; one entry per distinct key, the first reading's, else the first met. An entry scores
the completion's popularity when it is its text or its first spelling's, and
popularity // OTHER_READING_DIVISOR otherwise. Entries are ordered by their bytes: the key's
UTF-8, a zero byte, the completion's number (4 bytes, big-endian; completions are numbered in
the order of their texts) and the match kind (text 0, pinyin 1, initials 2).

A prefix (normalised, then `key_of`) matches the entries whose keys start with it: met best
first (the higher score, then the earlier entry), each completion is taken once, by the first of
its entries met (which names the match), until `limit` are taken. A prefix of Han characters
then letters (羊绒w) also matches, for each spelling of its characters, the entries whose keys
start with that spelling and the letters, of the completions whose text starts with the
characters (up to `limit` for each spelling, those not taken yet added). Completions come best
score first (ties by text), at most `limit`, each with the number of its characters the prefix
matched (`matched_chars`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xiaodian.errors import InvalidArgument
from xiaodian.reference import pinyin
from xiaodian.reference.search import (
    ReferenceSearchEngine,
    _is_blank,
    fold_name,
    is_han,
    normalize,
)

#: Longest prefix, in characters.
MAX_PREFIX_CHARS = 30
#: Most completions a request may ask for.
MAX_SUGGESTIONS = 20
#: Longest title word offered, in characters.
MAX_WORD_CHARS = 8
#: Most pinyin spellings of one completion.
MAX_SPELLINGS = 8
#: A completion matched through another reading than its first scores its popularity / this.
OTHER_READING_DIVISOR = 16

#: The sources, in the order that breaks ties of popularity.
SOURCES = ("title", "shop_name", "brand")
#: The match kinds, each numbered by its position (the last byte of an entry).
MATCHES = ("text", "pinyin", "initials")


def validate(prefix: str, limit: int) -> None:
    """The rules of a Suggest request: a prefix of 1-MAX_PREFIX_CHARS characters, not blank,
    and 1-MAX_SUGGESTIONS completions."""
    violations: list[tuple[str, str]] = []
    if _is_blank(prefix):
        violations.append(("prefix", "is required"))
    elif len(prefix) > MAX_PREFIX_CHARS:
        violations.append(("prefix", f"must be at most {MAX_PREFIX_CHARS} characters"))
    if limit < 1:
        violations.append(("limit", "must be at least 1"))
    elif limit > MAX_SUGGESTIONS:
        violations.append(("limit", f"must be at most {MAX_SUGGESTIONS}"))
    if violations:
        message = "invalid argument: " + "; ".join(f"{field}: {rule}" for field, rule in violations)
        raise InvalidArgument(message, violations)


def _is_alphanumeric(c: str) -> bool:
    """Rust's `char::is_alphanumeric` (`str.isalnum`, up to the marks and letter numbers Rust
    also counts)."""
    return c.isalnum()


def key_of(normalized: str) -> str:
    """What a key keeps of normalised text: letters, digits and Han characters."""
    return "".join(c for c in normalized if _is_alphanumeric(c))


def _ascii_lowercase(text: str) -> bool:
    return all("a" <= c <= "z" for c in text)


@dataclass(frozen=True)
class Completion:
    text: str
    source: str
    popularity: int


def completions(engine: ReferenceSearchEngine) -> list[Completion]:
    """The completions of the engine's live products and their shops, sorted by text."""
    analyzer = engine._analyzer
    by_text: dict[tuple[str, str], int] = {}
    shop_popularity: dict[str, int] = {}
    raw_brands: dict[str, int] = {}
    title_words: dict[str, int] = {}
    phrases: dict[str, int] = {}
    for product in engine._products.values():
        record = product.record
        weight = 1 + max(record["sales_30d"], 0)
        shop_popularity[record["shop_id"]] = shop_popularity.get(record["shop_id"], 0) + weight
        if not _is_blank(record["brand"]):
            raw_brands[record["brand"]] = raw_brands.get(record["brand"], 0) + weight
        for token in set(product.title_tokens):
            if all(is_han(c) for c in token):
                word = 2 <= len(token) <= MAX_WORD_CHARS and analyzer.is_dictionary_word(token)
            else:
                word = len(token) >= 2 and token.isalpha()
            if word:
                title_words[token] = title_words.get(token, 0) + weight
        for phrase in set(product.title_phrases):
            phrases[phrase] = phrases.get(phrase, 0) + weight
    for raw, popularity in raw_brands.items():
        key = (fold_name(raw), "brand")
        by_text[key] = by_text.get(key, 0) + popularity
    for shop_id, shop in engine._shops.items():
        popularity = shop_popularity.get(shop_id, 0)
        if popularity > 0:
            key = (shop.folded_name, "shop_name")
            by_text[key] = by_text.get(key, 0) + popularity
    for text, popularity in title_words.items():
        by_text[(text, "title")] = popularity
    for phrase, popularity in phrases.items():
        by_text[(phrase, "title")] = max(by_text.get((phrase, "title"), 0), popularity)
    # By text, then the most popular source first (ties: title, shop name, brand).
    ordered = sorted(by_text.items(), key=lambda item: (item[0][0], -item[1], SOURCES.index(item[0][1])))
    out: list[Completion] = []
    for (text, source), popularity in ordered:
        if text == "" or (out and out[-1].text == text):
            continue
        out.append(Completion(text, source, popularity))
    return out


def _spelled(spelling: list[str]) -> str:
    return "".join(spelling)


@dataclass(frozen=True)
class _Entry:
    key: bytes
    completion: int
    match: str
    score: int


class ReferenceSuggester:
    """The completions of one state of a reference engine and their keys; build another to see
    later writes."""

    def __init__(self, engine: ReferenceSearchEngine) -> None:
        self.completions = completions(engine)
        entries: list[_Entry] = []
        for number, c in enumerate(self.completions):
            text_key = key_of(c.text)
            keys: list[tuple[str, str, bool]] = [(text_key, "text", True)]
            if all(is_han(ch) for ch in text_key):
                for k, spelling in enumerate(pinyin.spellings(text_key, MAX_SPELLINGS)):
                    keys.append((_spelled(spelling), "pinyin", k == 0))
                    keys.append(("".join(pinyin.initial(s) for s in spelling), "initials", k == 0))
            # One entry per key text: the first reading's, else the first met (a dict keeps
            # the place of a replaced value).
            firsts: dict[str, tuple[str, str, bool]] = {}
            for key in keys:
                if key[0] in firsts:
                    if key[2] and not firsts[key[0]][2]:
                        firsts[key[0]] = key
                    continue
                firsts[key[0]] = key
            for text, match, first in firsts.values():
                entry_bytes = text.encode() + b"\0" + number.to_bytes(4, "big") + bytes([MATCHES.index(match)])
                score = c.popularity if first else c.popularity // OTHER_READING_DIVISOR
                entries.append(_Entry(entry_bytes, number, match, score))
        #: In key order: an entry's number is its place here.
        self.entries = sorted(entries, key=lambda e: e.key)

    def _matching(self, prefix: str) -> list[_Entry]:
        """The entries whose keys start with `prefix`, best first: the higher score, then the
        earlier entry."""
        encoded = prefix.encode()
        found = [(e, i) for i, e in enumerate(self.entries) if e.key.startswith(encoded)]
        found.sort(key=lambda pair: (-pair[0].score, pair[1]))
        return [e for e, _ in found]

    def _gather(self, prefix: str, han: str, limit: int) -> list[tuple[int, int, str, int]]:
        """Up to `limit` completions whose keys start with `prefix` and whose texts start with
        `han`, each by its best entry: (score, completion, match, characters of `han`)."""
        found: list[tuple[int, int, str, int]] = []
        for entry in self._matching(prefix):
            text = self.completions[entry.completion].text
            if text.startswith(han) and not any(f[1] == entry.completion for f in found):
                found.append((entry.score, entry.completion, entry.match, len(han)))
            if len(found) >= limit:
                break
        return found

    def suggest(self, prefix: str, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` completions of `prefix`, best first; raises InvalidArgument as
        `validate` says."""
        validate(prefix, limit)
        key = key_of(normalize(prefix))
        if key == "":
            return []
        found = self._gather(key, "", limit)
        # Han characters, then letters: the characters' readings, then the letters.
        han_end = next((i for i, c in enumerate(key) if not is_han(c)), len(key))
        han, letters = key[:han_end], key[han_end:]
        if han and letters and _ascii_lowercase(letters):
            for spelling in pinyin.spellings(han, MAX_SPELLINGS):
                for more in self._gather(_spelled(spelling) + letters, han, limit):
                    if not any(f[1] == more[1] for f in found):
                        found.append(more)
        found.sort(key=lambda f: (-f[0], self.completions[f[1]].text))
        out: list[dict[str, Any]] = []
        for _, number, match, han_chars in found[:limit]:
            completion = self.completions[number]
            if han_chars > 0:
                matched = matched_chars(completion.text, letters, "pinyin", han_chars)
            else:
                matched = matched_chars(completion.text, key, match, 0)
            out.append(
                {
                    "text": completion.text,
                    "matched_chars": matched,
                    "source": completion.source,
                    "match": match,
                    "popularity": completion.popularity,
                }
            )
        return out


def matched_chars(text: str, key: str, match: str, skip: int) -> int:
    """How many characters of `text` a prefix `key` matched, after its first `skip` characters
    (matched already), counting whitespace and punctuation as they pass: by text, a key
    character a character; by initials, a letter a character; by pinyin, every character whose
    syllable the key reaches."""
    # The positions in `text` of the key characters after `skip`.
    keyed = [i for i in range(skip, len(text)) if _is_alphanumeric(text[i])]
    if match == "text":
        reached = len(key)
    elif match == "initials":
        reached = len(key.encode())
    else:
        spellings = pinyin.spellings("".join(text[i] for i in keyed), MAX_SPELLINGS)
        spelling = next(
            (s for s in spellings if _spelled(s).startswith(key) or key.startswith(_spelled(s))),
            spellings[0] if spellings else [],
        )
        reached = 0
        at = 0
        for syllable in spelling:
            if at >= len(key):
                break
            reached += 1
            at += len(syllable)
    r = min(reached, len(keyed))
    return skip if r == 0 else keyed[r - 1] + 1

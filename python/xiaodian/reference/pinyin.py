"""The executable specification of `crates/xiaodian-core/src/text/pinyin.rs`, in plain Python.

Pinyin: the readings of Chinese characters, the table of syllables, and the cutting of typed
letters into syllables. The readings come from `pypinyin` (the Rust code takes them from the
`pinyin` crate; `tests/search/test_reference_pinyin.py` requires the two to agree on every
character):
- a reading is toneless and ASCII: ü is written `v` (女 `nv`), ê is `e`;
- a character's readings come most common first, then its other readings (heteronyms: 长
  `zhang`, `chang`), without repeats, each kept only when it is a syllable of the table;
- the table: every reading of a character of the CJK Unified Ideographs block (U+4E00-U+9FFF)
  that is all ASCII lowercase and has a vowel (a e i o u v), alphabetical; the interjections
  m, n, ng, hm, hng are left out, so typed letters are never cut into them;
- `cuts(letters)`: the ways letters are read as syllables, at most MAX_CUTS: the fewest
  syllables first, then those whose syllables are longer earlier (`xian` before `xi an`,
  `fang an` before `fan gan`), chosen among the first 64 cuts met depth first with the longest
  syllable first;
- `spellings(text, cap)`: one syllable per character for each combination of the readings
  (the first readings first), at most `cap`; none when a character has no reading;
- `initial(syllable)`: its first letter (`zh` is `z`), as pinyin keyboards take it.
"""

from __future__ import annotations

import functools

import pypinyin

#: Longest syllable, in letters (`zhuang`, `shuang`, `chuang`).
MAX_SYLLABLE_LETTERS = 6
#: Most syllable cuts of one run of letters that are kept.
MAX_CUTS = 4
#: Most cuts gathered (depth first) before the best MAX_CUTS are picked.
MAX_CUTS_WALKED = 64

_VOWELS = frozenset("aeiouv")


def _ascii_reading(plain: str) -> str:
    return plain.replace("ü", "v").replace("ê", "e")


def _raw_readings(c: str) -> list[str]:
    """pypinyin's readings of one character, most common first, written in ASCII; none for a
    character pypinyin does not know (it returns the character itself)."""
    found: list[str] = pypinyin.pinyin(c, style=pypinyin.Style.NORMAL, heteronym=True)[0]
    if found == [c]:
        return []
    return [_ascii_reading(reading) for reading in found]


def _is_syllable_text(reading: str) -> bool:
    return reading != "" and all("a" <= b <= "z" for b in reading) and any(b in _VOWELS for b in reading)


@functools.cache
def syllables() -> tuple[str, ...]:
    """Every syllable, alphabetical."""
    found: set[str] = set()
    for code in range(0x4E00, 0x9FFF + 1):
        found.update(r for r in _raw_readings(chr(code)) if _is_syllable_text(r))
    return tuple(sorted(found))


@functools.cache
def _syllable_set() -> frozenset[str]:
    return frozenset(syllables())


def is_syllable(text: str) -> bool:
    return text in _syllable_set()


@functools.cache
def readings(c: str) -> tuple[str, ...]:
    """The readings of a character, most common first; none for a character without one (not
    Chinese, or only read as an interjection)."""
    out: list[str] = []
    for reading in _raw_readings(c):
        if is_syllable(reading) and reading not in out:
            out.append(reading)
    return tuple(out)


def cuts(letters: str) -> list[list[str]]:
    """The ways `letters` (lowercase ASCII) is read as syllables, at most MAX_CUTS, best
    first; empty when the letters are no run of syllables."""
    n = len(letters)
    if n == 0 or not all("a" <= b <= "z" for b in letters):
        return []
    # ends[i]: the ends of the syllables that start at letter i and leave a cuttable rest,
    # longest first; fewest[i]: the fewest syllables of letters[i:] (None: it cannot be cut).
    fewest: list[int | None] = [None] * (n + 1)
    fewest[n] = 0
    ends: list[list[int]] = [[] for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for length in range(min(MAX_SYLLABLE_LETTERS, n - i), 0, -1):
            rest = fewest[i + length]
            if is_syllable(letters[i : i + length]) and rest is not None:
                ends[i].append(i + length)
                current = fewest[i]
                fewest[i] = rest + 1 if current is None else min(current, rest + 1)
    if fewest[0] is None:
        return []
    # Depth first, longest syllable first, gathering enough cuts to pick the best few.
    found: list[list[int]] = []
    path: list[int] = []

    def walk(at: int) -> None:
        if len(found) >= MAX_CUTS_WALKED:
            return
        if at == n:
            found.append(list(path))
            return
        for end in ends[at]:
            path.append(end)
            walk(end)
            path.pop()

    walk(0)
    # Fewest syllables first; then longer syllables earlier (the larger ends first: the
    # paths compared in reverse lexicographic order). A stable sort, as Rust's `sort_by`.
    found.sort(key=_DescendingPath)
    found.sort(key=len)
    out: list[list[str]] = []
    for ends_of_cut in found[:MAX_CUTS]:
        start = 0
        cut: list[str] = []
        for end in ends_of_cut:
            cut.append(letters[start:end])
            start = end
        out.append(cut)
    return out


class _DescendingPath:
    """Orders lists of ints in reverse lexicographic order (Rust's `b.cmp(a)`)."""

    __slots__ = ("path",)

    def __init__(self, path: list[int]) -> None:
        self.path = path

    def __lt__(self, other: _DescendingPath) -> bool:
        return other.path < self.path


def initial(syllable: str) -> str:
    """The initial of a syllable as pinyin keyboards take it: its first letter (`zh` is `z`)."""
    return syllable[0]


def spellings(text: str, cap: int) -> list[list[str]]:
    """The full-pinyin spellings of Han text, one syllable per character, for each combination
    of its characters' readings (the first readings first), at most `cap`; empty when a
    character has no reading."""
    out: list[list[str]] = [[]]
    for c in text:
        options = readings(c)
        if not options:
            return []
        longer: list[list[str]] = []
        for spelling in out:
            if len(longer) == cap:
                break
            for r in options:
                if len(longer) == cap:
                    break
                longer.append([*spelling, r])
        out = longer
    return out

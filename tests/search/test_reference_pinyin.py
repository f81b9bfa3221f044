"""The pinyin of the Rust engine (`crates/xiaodian-core/src/text/pinyin.rs`, readings from the
`pinyin` crate) against its pure-Python reference (`xiaodian.reference.pinyin`, readings from
`pypinyin`): the same syllable table, the same readings of every character of the CJK Unified
Ideographs block and its Extension A (and none for other text), and the same cuts of typed
letters into syllables."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xiaodian import _core
from xiaodian.reference import pinyin

pytestmark = pytest.mark.backend_independent  # run in the SQLite pass only

#: Characters are compared in chunks of this many, one call into Rust each.
CHUNK = 4096


def test_the_syllable_table_is_the_engines() -> None:
    table = pinyin.syllables()
    assert _core.pinyin_syllables() == list(table)
    assert 380 <= len(table) <= 430
    assert {"yang", "rong", "zhuang", "nv", "lve", "er", "a"} <= set(table)
    assert not {"m", "n", "ng", "hm", "hng", "v", "iphone"} & set(table)  # interjections, non-syllables


@pytest.mark.parametrize(
    ("first", "last"),
    [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0xF900, 0xFAFF)],
    ids=["unified", "extension-a", "compatibility"],
)
def test_every_characters_readings_agree(first: int, last: int) -> None:
    for start in range(first, last + 1, CHUNK):
        text = "".join(chr(code) for code in range(start, min(start + CHUNK, last + 1)))
        assert _core.pinyin_readings(text) == [list(pinyin.readings(c)) for c in text], hex(start)


def test_text_without_readings_agrees() -> None:
    text = "aZ09 ü，。！?〇々〆ㄅ가あア①Ⅻ\u3000\U0001f600-·【】iPhone"
    assert _core.pinyin_readings(text) == [list(pinyin.readings(c)) for c in text]
    assert all(pinyin.readings(c) == () for c in "aZ09 ü，。！?iPhone")
    assert pinyin.readings("羊") == ("yang",)
    assert pinyin.readings("女")[0] == "nv"  # ü written v
    assert {"chang", "zhang"} <= set(pinyin.readings("长"))


FIXED = ["xian", "fangan", "yangrongweijin", "iphone", "", "zhuangshuang", "yr", "xi'an", "Yang", "nv", "lve", "a" * 40]


@pytest.mark.parametrize("letters", FIXED)
def test_fixed_cuts_agree(letters: str) -> None:
    assert _core.pinyin_cuts(letters) == pinyin.cuts(letters)


def test_cuts_take_the_fewest_syllables_longest_first() -> None:
    assert pinyin.cuts("xian") == [["xian"], ["xi", "an"]]
    assert pinyin.cuts("fangan")[:2] == [["fang", "an"], ["fan", "gan"]]
    assert pinyin.cuts("yangrongweijin")[0] == ["yang", "rong", "wei", "jin"]
    assert pinyin.cuts("iphone") == pinyin.cuts("") == pinyin.cuts("yr") == []
    assert len(pinyin.cuts("zhuangshuang")) == pinyin.MAX_CUTS


syllable = st.sampled_from(pinyin.syllables())
letters = st.one_of(
    st.lists(syllable, max_size=8).map("".join),
    st.lists(st.one_of(syllable, syllable, st.sampled_from("abcdefghijklmnopqrstuvwxyz")), max_size=10).map("".join),
    st.text(alphabet="aeginouhrvx", max_size=16),
    st.lists(st.sampled_from(["a", "e", "o", "er", "ang", "xi", "an", "n", "g"]), max_size=20).map("".join),
)


@settings(max_examples=1000, deadline=None)
@given(letters=letters)
def test_cuts_agree(letters: str) -> None:
    assert _core.pinyin_cuts(letters) == pinyin.cuts(letters)


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from("长行重乐羊绒围巾女a，的了还只"), max_size=6),
    cap=st.integers(1, 20),
)
def test_spellings_are_the_first_combinations_of_the_engines_readings(text: str, cap: int) -> None:
    """Every combination of the characters' readings, the first readings first, at most `cap`
    (none when a character has no reading); the initial of a syllable is its first letter."""
    readings = _core.pinyin_readings(text)
    expected = (
        [] if any(not r for r in readings) else [list(c) for c in itertools.islice(itertools.product(*readings), cap)]
    )
    assert pinyin.spellings(text, cap) == expected
    for spelling in expected:
        assert all(pinyin.initial(s) == s[0] for s in spelling)

"""Exact SMS segment counts (GSM-7 with its extension table, UCS-2 with surrogate pairs)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sms.gsm7 import BASIC, EXTENSION, replace_lookalikes
from bot.sms.segments import count_segments, encoding_of, segment_info, split_text

CASES = [
    # (label, text, encoding, segments, units)
    ("empty", "", "GSM-7", 0, 0),
    ("one plain", "a" * 160, "GSM-7", 1, 160),
    ("one over", "a" * 161, "GSM-7", 2, 161),
    ("two full parts", "a" * 306, "GSM-7", 2, 306),
    ("third part", "a" * 307, "GSM-7", 3, 307),
    ("extension counts two", "€" * 80, "GSM-7", 1, 160),
    ("extension tips over", "a" * 159 + "€", "GSM-7", 2, 161),
    # an escape pair never straddles two parts: 152 + (2) does not fit 153
    ("escape pair kept whole", "a" * 152 + "{" + "a" * 10, "GSM-7", 2, 164),
    ("gsm accents", "é ñ ü à Ä Ö Ñ Ü ß ¿ ¡ Ç", "GSM-7", 1, 23),
    ("spanish á is ucs-2", "está", "UCS-2", 1, 4),
    ("one ucs-2", "á" * 70, "UCS-2", 1, 70),
    ("ucs-2 over", "á" * 71, "UCS-2", 2, 71),
    ("ucs-2 parts of 67", "á" * 134, "UCS-2", 2, 134),
    ("ucs-2 third part", "á" * 135, "UCS-2", 3, 135),
    ("emoji take two units", "😀" * 35, "UCS-2", 1, 70),
    ("emoji tip over", "😀" * 36, "UCS-2", 2, 72),
    # a surrogate pair never straddles: 66 + (2) does not fit 67
    ("surrogate pair kept whole", "a" * 66 + "😀" + "a" * 5, "UCS-2", 2, 73),
    ("lowercase ç is ucs-2", "ç", "UCS-2", 1, 1),
    ("curly apostrophe is ucs-2", "it\u2019s", "UCS-2", 1, 4),
    ("backtick is ucs-2", "`", "UCS-2", 1, 1),
]


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "units"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_segment_info(text: str, encoding: str, segments: int, units: int) -> None:
    info = segment_info(text)
    assert (info.encoding, info.segments, info.units) == (encoding, segments, units)


LOOKALIKES = [
    ("curly quotes", "\u201cIt\u2019s\u201d", '"It\'s"'),
    ("dashes", "a \u2013 b \u2014 c", "a - b - c"),
    ("ellipsis", "wait\u2026", "wait..."),
    ("non-breaking spaces", "a\u00a0b\u202fc", "a b c"),
    ("zero width", "a\u200bb", "ab"),
    ("accents untouched", "está ação", "está ação"),
]


@pytest.mark.parametrize(
    ("text", "expected"), [c[1:] for c in LOOKALIKES], ids=[c[0] for c in LOOKALIKES]
)
def test_replace_lookalikes(text: str, expected: str) -> None:
    assert replace_lookalikes(text) == expected


def test_smart_encoding_can_turn_ucs2_into_gsm7() -> None:
    text = "It\u2019s okay \u2014 we\u2019re here."
    assert encoding_of(text) == "UCS-2"
    assert encoding_of(replace_lookalikes(text)) == "GSM-7"


@given(st.text(alphabet=sorted(BASIC | EXTENSION), max_size=500))
def test_gsm7_segments_match_the_formula_without_extension_edges(text: str) -> None:
    units = sum(2 if ch in EXTENSION else 1 for ch in text)
    info = segment_info(text)
    assert info.encoding == "GSM-7"
    assert info.units == units
    if units <= 160:
        assert info.segments == (1 if text else 0)
    else:
        # Keeping escape pairs whole can only add a part, never remove one.
        assert info.segments >= -(-units // 153)


def _walked(text: str) -> tuple[str, int, int]:
    """Encoding, segments and units the slow way: a size per character, packed in order."""
    if all(ch in BASIC or ch in EXTENSION for ch in text):
        encoding, sizes, single, part = (
            "GSM-7",
            [2 if ch in EXTENSION else 1 for ch in text],
            160,
            153,
        )
    else:
        encoding, sizes, single, part = (
            "UCS-2",
            [2 if ord(ch) > 0xFFFF else 1 for ch in text],
            70,
            67,
        )
    if sum(sizes) <= single:
        return encoding, (1 if sizes else 0), sum(sizes)
    count, used = 1, 0
    for size in sizes:
        if used + size > part:
            count, used = count + 1, 0
        used += size
    return encoding, count, sum(sizes)


# Texts from both alphabets, with escape pairs and characters outside the BMP (emoji), long
# enough to need several parts.
_PIECES = ["Hello there. ", "a", "€", "[", "^", "ñ", "é", "\u00e1", "\u4f60", "\U0001f600", " "]
_MIXED = st.lists(st.sampled_from(_PIECES), max_size=300).map("".join)


@given(st.one_of(_MIXED, st.text(max_size=400)))
def test_segment_counts_match_walking_every_character(text: str) -> None:
    info = segment_info(text)
    assert (info.encoding, info.segments, info.units) == _walked(text)


@given(st.text(max_size=4000))
def test_split_parts_fit_and_keep_every_word(text: str) -> None:
    parts = split_text(text, 1600)
    assert all(sum(2 if ord(c) > 0xFFFF else 1 for c in p) <= 1600 for p in parts)
    assert "".join("".join(parts).split()) == "".join(text.split())


def test_split_prefers_spaces() -> None:
    text = " ".join(["word"] * 400)  # 1,999 characters
    first, second = split_text(text, 1600)
    assert first.endswith("word") and second.startswith("word")
    assert count_segments(first) == 11

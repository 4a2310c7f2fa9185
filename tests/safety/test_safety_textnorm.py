"""Text folding shared by the safety matchers."""

from __future__ import annotations

import pytest

from bot.safety.textnorm import clean, fold_pattern, normalize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm SO sorry", "i'm so sory"),  # lowercase; letter runs squeezed to one
        ("plzzz helllp", "plz help"),
        ("k1ll mys3lf", "kil myself"),  # leetspeak inside a word
        ("call 911 or 988", "cal 911 or 988"),  # numbers stay numbers
        ("he’s od’ing", "he's od'ing"),  # curly apostrophes
        ("that's odd", "that's weird"),  # "odd" must not squeeze into "od"
        ("Se está muriendo!!", "se esta muriendo!!"),  # accents stripped, clause marks kept
        ("DỪNG đi", "dung di"),  # Vietnamese đ has no decomposition
        ("죽고 싶어", "죽고 싶어"),  # Hangul survives accent stripping
        ("إلغاء", "الغاء"),  # hamza seats unified
        ("ＳＴＯＰ", "stop"),  # full-width letters
        ("help 😂", "help lol"),  # laughing emoji become a word
        ("a\u200db\x00c", "ab c"),  # zero-width joiner dropped, control char is a break
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_clean_drops_lone_surrogates() -> None:
    assert clean("a\ud800b\udfffc") == "abc"


def test_fold_pattern_keeps_escapes_and_folds_literals() -> None:
    assert fold_pattern(r"Kill\S+ \W Está") == r"kil\S+ \W esta"

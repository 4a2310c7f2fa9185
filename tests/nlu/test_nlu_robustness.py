"""`parse` returns a valid Parse for any text whatsoever and never raises."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.nlu.base import INTENTS, Parse
from bot.nlu.classifier import BuiltinInterpreter
from bot.nlu.normalize import normalize

LANGUAGES = st.sampled_from(["en", "es", "es-MX", "zh-Hans", "", "??", "EN_us"])


def assert_valid(parse: Parse, text: str) -> None:
    assert isinstance(parse, Parse)
    assert parse.intent in INTENTS
    assert 0.0 <= parse.confidence <= 1.0
    assert parse.ranking and all(name in INTENTS for name, _ in parse.ranking)
    for entity in parse.entities:
        assert 0 <= entity.start < entity.end <= len(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(), language=LANGUAGES)
def test_any_text(nlu_interpreter: BuiltinInterpreter, text: str, language: str) -> None:
    assert_valid(nlu_interpreter.parse(text, language), text)


@settings(max_examples=50, deadline=None)
@given(
    text=st.text(
        alphabet=st.characters(codec="utf-8", categories=["Cc", "Cf", "So", "Sk", "Mn", "Zs"]),
        max_size=200,
    )
)
def test_controls_emoji_and_marks(nlu_interpreter: BuiltinInterpreter, text: str) -> None:
    assert_valid(nlu_interpreter.parse(text, "en"), text)


@pytest.mark.parametrize(
    "text",
    [
        "a" * 10_000,
        "help me " * 1_250,
        "\x00" * 10_000,
        "😭🙏💊" * 3_000,
        "quiero ayuda please help me 我需要帮助 \u202e\u200d\ufeff",
        "i\x00 need\x07 help\x1b[31m",
        "\ud800",  # a lone surrogate can arrive from a broken client
        "español " * 2_000,
    ],
)
def test_hostile_texts(nlu_interpreter: BuiltinInterpreter, text: str) -> None:
    for language in ("en", "es"):
        assert_valid(nlu_interpreter.parse(text, language), text)


def test_non_string_input_is_unknown(nlu_interpreter: BuiltinInterpreter) -> None:
    assert nlu_interpreter.parse(None, "en") == Parse.unknown()  # type: ignore[arg-type]
    assert nlu_interpreter.parse("hi", None).intent == "greet"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("Español", "es", "espanol"),
        ("noooo", "en", "no"),
        ("pleaseeee hlp", "en", "please help"),
        ("don't", "en", "dont"),
        ("im od'ing", "en", "im overdosing"),
        ("he od'd", "en", "he overdosed"),
        ("that's odd", "en", "thats odd"),
        ("q onda xfa", "es", "que onda por favor"),
        ("i\x00need", "en", "i need"),
        ("👍", "en", "👍"),
    ],
)
def test_normalize(text: str, language: str, expected: str) -> None:
    assert normalize(text, language) == expected

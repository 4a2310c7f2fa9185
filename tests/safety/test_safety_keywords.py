"""Compliance keywords: STOP/START/HELP tables, YES after an opt-out, natural-language stops."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.safety.keywords import (
    KeywordDataError,
    classify_keyword,
    is_natural_opt_out,
    is_opt_in,
    parse_rules,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", "stop"),  # Twilio default
        ("Stop.", "stop"),  # trailing punctuation
        (" stop!!", "stop"),  # surrounding whitespace
        ("STOP 🙏", "stop"),  # emoji are not words
        ("stopall", "stop"),
        ("Unsubscribe", "stop"),
        ("cancel", "stop"),  # a whole-message CANCEL is an opt-out
        ("end", "stop"),
        ("Quit", "stop"),
        ("REVOKE", "stop"),  # added for the FCC 2024 rule
        ("optout", "stop"),
        ("opt out", "stop"),  # two words count too
        ("Opt-Out", "stop"),
        ("alto", "stop"),  # es
        ("PARA", "stop"),
        ("basta!", "stop"),
        ("Baja", "stop"),
        ("detener", "stop"),
        ("Arrêt", "stop"),  # fr, with the accent
        ("arret", "stop"),  # fr, without
        ("ARRETT", "stop"),  # a Twilio French variant
        ("stopper", "stop"),
        ("sair", "stop"),  # pt
        ("停止", "stop"),  # zh_Hans
        ("退订。", "stop"),  # with Chinese punctuation
        ("DỪNG", "stop"),  # vi
        ("dung", "stop"),  # vi typed without diacritics
        ("HỦY", "stop"),  # vi, accent-sensitive...
        ("Huy", None),  # ...because unaccented it is a common given name
        ("tigil", "stop"),  # tl
        ("توقف", "stop"),  # ar
        ("إلغاء", "stop"),
        ("sispann", "stop"),  # ht
        ("중지", "stop"),  # ko
        ("СТОП", "stop"),  # ru
        ("отписаться", "stop"),
        ("START", "start"),
        ("unstop", "start"),
        ("HELP", "help"),
        ("info?", "help"),
        ("Ayuda", "help"),
        ("aide", "help"),
        ("AJUDA", "help"),
        ("помощь", "help"),
        ("yes", None),  # YES is only an opt-in after an opt-out: see is_opt_in
        ("I want to end this", None),  # natural language goes to the NLU, not here
        ("stop texting me", None),  # natural language: see is_natural_opt_out
        ("stop stop", None),
        ("stopping", None),
        ("helpful", None),
        ("", None),
        ("!!!", None),
    ],
)
def test_classify_keyword(text: str, expected: str | None) -> None:
    assert classify_keyword(text) == expected


@pytest.mark.parametrize(
    ("text", "opted_out", "expected"),
    [
        ("START", False, True),  # START and UNSTOP always re-subscribe
        ("unstop", True, True),
        ("YES", True, True),  # YES only after an opt-out...
        ("yes", False, False),  # ...otherwise it answers the question just asked
        ("Sí", True, True),
        ("si", True, True),
        ("OUI", True, True),
        ("sim", True, True),
        ("네", True, True),
        ("si", False, False),
        ("yes please", True, False),  # whole message only
        ("STOP", True, False),
        ("help", True, False),
    ],
)
def test_is_opt_in(text: str, opted_out: bool, expected: bool) -> None:
    assert is_opt_in(text, opted_out=opted_out) == expected


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("please stop texting me", "en", True),
        ("stop messaging me", "en", True),
        ("Stop sending me these messages!!", "en", True),
        ("stop the texts", "en", True),
        ("don't text me anymore", "en", True),
        ("never text me again", "en", True),
        ("no, stop texting me", "en", True),  # "no," ends the clause: not a negation
        ("unsubscribe me please", "en", True),
        ("take me off your list", "en", True),
        ("please don't stop texting me", "en", False),  # negated
        ("I don't want you to stop messaging me", "en", False),  # negated, three words back
        ("why did you stop texting me?", "en", False),  # a complaint, not a request
        ("stop texting my ex", "en", False),  # not about us
        ("I stopped texting my dealer", "en", False),
        ("leave me alone", "en", False),  # deliberately left to the NLU: often about others
        ("I want to end this", "en", False),
        ("ya no me escriban", "es", True),
        ("no me escribas mas", "es", True),
        ("no más mensajes", "es", True),
        ("dejen de escribirme por favor", "es", True),
        ("no dejen de escribirme", "es", False),  # negated
        ("no pares", "es", False),
        ("arrêtez de m'écrire", "fr", True),
        ("ne m'écrivez plus", "fr", True),
        ("pare de me mandar mensagens", "pt", True),
        ("não me mande mais mensagens", "pt", True),
        ("sispann voye mesaj ban mwen", "ht", True),
        ("wag nyo na akong i-text", "tl", True),
        ("dừng nhắn tin cho tôi", "vi", True),
        ("不要再给我发短信了", "zh_Hans", True),
        ("请不要停止发短信给我", "zh_Hans", False),  # negated
        ("문자 보내지 마세요", "ko", True),
        ("перестаньте мне писать", "ru", True),
        ("не переставайте мне писать", "ru", False),
        ("توقفوا عن مراسلتي", "ar", True),
        # The language argument does not narrow the search.
        ("ya no me escriban", "en", True),
        ("", "en", False),
    ],
)
def test_is_natural_opt_out(text: str, language: str, expected: bool) -> None:
    assert is_natural_opt_out(text, language) == expected


@pytest.mark.parametrize(
    "data",
    [
        {"stop": {"en": [True]}},  # a bare YES read as a boolean by YAML 1.1
        {"stop": {"en": ["GO"]}, "help": {"en": ["go"]}},  # one word, two categories
        {"stop": {"en": ["!!"]}},  # no letters
        {"yes_after_opt_out": {"en": ["STOP"]}, "stop": {"en": ["STOP"]}},
        {"accent_sensitive": {"maybe": {"vi": ["HỦY"]}}},
        {"natural_opt_out": {"en": ["("]}},
        "not a mapping",
    ],
)
def test_bad_data_fails_at_load(data: object) -> None:
    with pytest.raises(KeywordDataError):
        parse_rules(data)


_WRAP = st.text(alphabet=st.sampled_from(" \t\n.,!?;:'\"()[]-*~…¡¿🙏😡👍"), max_size=12)


@settings(max_examples=300, deadline=None)
@given(_WRAP, st.lists(st.booleans(), min_size=4, max_size=4), _WRAP)
def test_any_casing_and_punctuation_around_stop_is_stop(
    before: str, upper: list[bool], after: str
) -> None:
    word = "".join(c.upper() if u else c for c, u in zip("stop", upper, strict=True))
    assert classify_keyword(before + word + after) == "stop"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=300))
@example("x" * 10_000)
@example("\ud800STOP\udfff")
@example("\x00\x07\u200b" * 100)
@example("🙏" * 5000)
def test_never_raises(text: str) -> None:
    assert classify_keyword(text) in (None, "stop", "start", "help")
    assert is_opt_in(text, opted_out=True) in (True, False)
    assert is_natural_opt_out(text, "en") in (True, False)


def test_surrogates_and_controls_are_stripped() -> None:
    assert classify_keyword("\ud800STOP\x00") == "stop"

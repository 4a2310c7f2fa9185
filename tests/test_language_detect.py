"""Detection of short real-world first messages, explicit requests and the offer line."""

from __future__ import annotations

import pytest

from bot.language import (
    _detector,
    detect_language,
    explicit_language_request,
    language_offer_line,
    requested_language,
    table,
)
from bot.language_choice import choose_language
from bot.services import Services

ALL = table().known()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("i need help with my drinking", "en"),
        ("can someone call me", "en"),
        ("necesito ayuda", "es"),
        ("hola necesito hablar con alguien", "es"),
        ("我需要帮助", "zh_Hans"),
        ("你好", "zh_Hans"),  # one script, one language: short is fine
        ("tôi cần giúp đỡ", "vi"),
        ("kailangan ko ng tulong", "tl"),
        ("أحتاج مساعدة", "ar"),
        ("bonjour je voudrais parler à quelqu'un", "fr"),
        ("mwen bezwen èd", "ht"),  # no detector model: the Kreyòl word list decides
        ("bonjou mwen bezwen pale ak yon moun", "ht"),
        ("도움이 필요해요", "ko"),
        ("мне нужна помощь", "ru"),
        ("preciso de ajuda", "pt"),
        # too short or too unsure to tell
        ("hi", None),
        ("ok", None),
        ("1", None),
        ("hola", None),
        ("", None),
        ("👍", None),
    ],
)
def test_detection_among_all_languages(text: str, expected: str | None) -> None:
    assert detect_language(text, ALL) == expected


def test_detection_only_answers_with_an_enabled_language() -> None:
    assert detect_language("necesito ayuda por favor", ["en", "vi"]) in {None, "en", "vi"}
    assert detect_language("mwen bezwen èd", ["en", "fr"]) != "ht"


def test_one_enabled_language_needs_no_detection() -> None:
    assert detect_language("necesito ayuda por favor", ["en"]) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("español", "es"),
        ("Spanish", "es"),
        ("en español por favor", "es"),
        ("espanol pls", "es"),
        ("english", "en"),
        ("can we talk in english?", "en"),
        ("中文", "zh_Hans"),
        ("请说中文", "zh_Hans"),
        ("tiếng việt", "vi"),
        ("tieng viet", "vi"),
        ("tagalog", "tl"),
        ("kreyòl", "ht"),
        ("한국어", "ko"),
        ("한국어로 해주세요", "ko"),
        ("русский", "ru"),
        ("português", "pt"),
        ("français", "fr"),
        ("parlez-vous français ?", "fr"),
        ("العربية", "ar"),
        ("ES", "es"),
        ("es", "es"),
        ("zh", "zh_Hans"),
        ("vi", "vi"),
        ("PT.", "pt"),
        # not requests: a name in passing, two names, ordinary answers
        ("my mom speaks spanish", None),
        ("english or spanish", None),
        ("no", None),
        ("1", None),
        ("I'm Chinese", None),
    ],
)
def test_explicit_requests(text: str, expected: str | None) -> None:
    assert requested_language(text) == expected


def test_an_explicit_request_must_name_an_enabled_language() -> None:
    assert explicit_language_request("español", ["en", "es"]) == "es"
    assert explicit_language_request("español", ["en"]) is None


def test_the_offer_line_lists_the_other_languages_in_their_own_words() -> None:
    line = language_offer_line(["en", "es", "vi", "zh_Hans"], "en")
    assert line == "Español: responde ES · Tiếng Việt: trả lời VI · 中文：回复 ZH"
    assert language_offer_line(["en"], "en") == ""


def test_every_offer_code_is_accepted_as_a_request() -> None:
    for code, info in table().languages.items():
        assert requested_language(info.reply) == code
        assert requested_language(info.own_name) == code


def test_a_started_server_has_built_the_detector_its_first_message_needs(
    sqlite_services: Services,
) -> None:
    """Built on a first message it held up every request behind it (about 0.1 s)."""
    _detector.cache_clear()
    sqlite_services.warm_up()
    built = _detector.cache_info().misses
    choice = choose_language(
        "hola, necesito ayuda por favor",
        enabled=sqlite_services.program.languages,
        fallback=sqlite_services.program.default_language,
        current=None,
        informed=False,
    )
    assert choice.language == "es" or choice.unavailable  # it was judged, in Spanish
    assert _detector.cache_info().misses == built  # with the detector built at start-up

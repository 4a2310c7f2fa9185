"""The language policy for one inbound message: explicit request > detection > what we know."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from bot.dialogue.effects import Say
from bot.i18n import N_
from bot.language import (
    detect_language,
    language_offer_line,
    requested_language,
    table,
    warm_detector,
)
from bot.nlu.base import Entity, Parse

CHANGE_LANGUAGE = "change_language"
MSG_LANGUAGE_UNAVAILABLE = N_(
    "Sorry, we can't write in your language yet. You can call {hotline} for help."
)
#: The offer line is already in each language's own words (data, not a catalog string), so its
#: template is deliberately not marked for translation: gettext returns it unchanged.
OFFER_TEMPLATE = "{language_offer}"


@dataclass(frozen=True)
class LanguageChoice:
    """What to speak now, and what to tell the person about it."""

    language: str
    #: Asked for explicitly or detected: worth remembering on the contact.
    chosen: bool = False
    #: An explicit request, mid-conversation, for another enabled language.
    switch_to: str | None = None
    #: They asked for, or wrote in, a language the program has not enabled.
    unavailable: bool = False
    #: A first message too short to tell ("hi"): offer the other languages.
    offer: bool = False


def choose_language(
    text: str,
    *,
    enabled: Collection[str],
    fallback: str,
    current: str | None,
    informed: bool,
) -> LanguageChoice:
    """`current` is the ongoing conversation's language (None on a first message); `fallback`
    is the contact's, the channel hint or the default; `informed` says it was not the default."""
    requested = requested_language(text)
    if current is not None:
        if requested is None or requested == current:
            return LanguageChoice(current)
        if requested in enabled:
            return LanguageChoice(current, switch_to=requested)
        return LanguageChoice(current, unavailable=True)
    if requested is not None:
        if requested in enabled:
            return LanguageChoice(requested, chosen=True)
        return LanguageChoice(fallback, unavailable=True)
    detected = detect_language(text, detection_languages(enabled))
    if detected is not None and detected in enabled:
        return LanguageChoice(detected, chosen=True)
    if detected is not None:
        return LanguageChoice(fallback, unavailable=True)
    return LanguageChoice(fallback, offer=not informed and len(enabled) > 1)


def detection_languages(enabled: Collection[str]) -> set[str]:
    """Detection is among every language we know, so writing in one that is not enabled is
    noticed."""
    return {*table().known(), *enabled}


def warm_language_detection(enabled: Collection[str]) -> None:
    """At start-up: the detector `choose_language` uses, built before the first message."""
    warm_detector(detection_languages(enabled))


def dialogue_parse(
    choice: LanguageChoice, parse: Parse | None, *, first: bool, enabled: Collection[str]
) -> tuple[Parse | None, str]:
    """The parse the dialogue sees and the language to speak.

    A mid-conversation request becomes the NLU's own `change_language` intent, so the runtime
    switches, keeps the slots and asks the current question again. On a first message the
    language is settled before the welcome, so a `change_language` intent is spent here.
    """
    if choice.switch_to is not None:
        entity = Entity(entity="language", value=choice.switch_to, start=0, end=0)
        return Parse(intent=CHANGE_LANGUAGE, confidence=1.0, entities=(entity,)), choice.language
    if first and parse is not None and parse.intent == CHANGE_LANGUAGE:
        named = [e.value for e in parse.entities if e.entity == "language" and e.value in enabled]
        return Parse.unknown(), named[0] if named and not choice.chosen else choice.language
    return parse, choice.language


def language_notes(
    choice: LanguageChoice, *, enabled: Collection[str]
) -> tuple[tuple[Say, ...], tuple[Say, ...]]:
    """Messages before the dialogue's reply (why this language) and after it (the offer)."""
    lead = (Say(MSG_LANGUAGE_UNAVAILABLE),) if choice.unavailable else ()
    line = language_offer_line(enabled, choice.language) if choice.offer else ""
    trail = (Say(OFFER_TEMPLATE, params={"language_offer": line}),) if line else ()
    return lead, trail

"""What people type -> the intent the built-in classifier must find, per language."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.nlu.base import INTENTS, Parse
from bot.nlu.classifier import BuiltinInterpreter
from bot.nlu.training_data import load_nlu
from bot.paths import dialogues_dir

EN = [
    ("i need hlp", "request_help"),  # SMS shorthand
    ("i need help gettin off fent", "request_help"),
    ("can u get me on suboxone pls", "request_help"),
    ("can i talk to a real person", "talk_to_person"),
    ("ya", "affirm"),
    ("yesss 👍", "affirm"),
    ("nah", "deny"),
    ("nope", "deny"),
    ("heyyy", "greet"),
    ("thx so much 🙏", "thanks"),
    ("not rn maybe tmrw", "not_now"),
    ("prefer not to say", "skip"),
    ("will the cops find out", "ask_confidentiality"),
    ("im undocumented will ice know", "ask_confidentiality"),
    ("is it free? i got no insurance", "ask_cost"),
    ("where can i get narcan", "ask_services"),
    ("español", "change_language"),
    ("in english please", "change_language"),
    ("中文", "change_language"),
    ("start over", "restart"),
    ("please stop texting me", "opt_out"),
    ("leave me alone", "opt_out"),
    ("I don't want you to share my info anymore", "withdraw_consent"),
    ("kms", "crisis_suicide"),
    ("i want to die", "crisis_suicide"),
    ("my friend isnt breathing", "crisis_overdose"),
    ("hes turning blue", "crisis_overdose"),
    ("im od'ing", "crisis_overdose"),
    ("whats the weather like", "out_of_scope"),
    ("my feet are killing me lol", "out_of_scope"),  # an idiom, not a crisis
]

ES = [
    ("nesecito ayuda", "request_help"),  # typo, no accent
    ("quiero dejar el cristal", "request_help"),
    ("quiero hablar con una persona", "talk_to_person"),
    ("si", "affirm"),
    ("claro q si", "affirm"),
    ("nel", "deny"),
    ("no gracias", "deny"),
    ("holaaa", "greet"),
    ("muchas gracias", "thanks"),
    ("ahorita no", "not_now"),
    ("prefiero no decir", "skip"),
    ("me van a deportar si les escribo", "ask_confidentiality"),
    ("cuanto cuesta", "ask_cost"),
    ("donde consigo narcan", "ask_services"),
    ("english", "change_language"),
    ("en ingles porfa", "change_language"),
    ("empezar de nuevo", "restart"),
    ("ya no me escriban", "opt_out"),
    ("retirar consentimiento", "withdraw_consent"),
    ("quiero morirme", "crisis_suicide"),
    ("me quiero matar", "crisis_suicide"),
    ("mi amigo no respira", "crisis_overdose"),
    ("se esta poniendo azul", "crisis_overdose"),
    ("que clima hace", "out_of_scope"),
    ("me muero de risa jaja", "out_of_scope"),
]


@pytest.mark.parametrize(("text", "intent"), EN)
def test_english_intents(nlu_interpreter: BuiltinInterpreter, text: str, intent: str) -> None:
    assert nlu_interpreter.parse(text, "en").intent == intent


@pytest.mark.parametrize(("text", "intent"), ES)
def test_spanish_intents(nlu_interpreter: BuiltinInterpreter, text: str, intent: str) -> None:
    assert nlu_interpreter.parse(text, "es").intent == intent


@pytest.mark.parametrize(
    ("text", "language", "code"),
    [
        ("español", "en", "es"),
        ("spanish please", "en", "es"),
        ("in english please", "es", "en"),
        ("中文", "en", "zh_Hans"),
        ("tiếng việt", "en", "vi"),
        ("tagalog", "en", "tl"),
        ("العربية", "es", "ar"),
        ("français", "en", "fr"),
        ("kreyòl", "en", "ht"),
        ("한국어", "es", "ko"),
        ("русский", "en", "ru"),
        ("portugues", "es", "pt"),
    ],
)
def test_language_entity(
    nlu_interpreter: BuiltinInterpreter, text: str, language: str, code: str
) -> None:
    parse = nlu_interpreter.parse(text, language)
    assert parse.intent == "change_language"
    assert [(e.entity, e.value) for e in parse.entities] == [("language", code)]
    entity = parse.entities[0]
    assert text[entity.start : entity.end].strip()


def test_regional_codes_use_the_base_model(nlu_interpreter: BuiltinInterpreter) -> None:
    assert nlu_interpreter.parse("ya no me escriban", "es-MX").intent == "opt_out"
    assert nlu_interpreter.parse("ya no me escriban", "es_MX").intent == "opt_out"
    # No Chinese data: the default (first enabled) language's model answers.
    assert nlu_interpreter.parse("i need help", "zh-Hans").intent == "request_help"


def test_low_confidence_is_out_of_scope_with_ranking(nlu_interpreter: BuiltinInterpreter) -> None:
    parse = nlu_interpreter.parse("purple monkey dishwasher", "en")
    assert parse.intent == "out_of_scope"
    assert len(parse.ranking) == len(INTENTS)
    assert abs(sum(score for _, score in parse.ranking) - 1.0) < 1e-3


def test_ranking_is_sorted_and_top_matches(nlu_interpreter: BuiltinInterpreter) -> None:
    parse = nlu_interpreter.parse("i need help", "en")
    scores = [score for _, score in parse.ranking]
    assert scores == sorted(scores, reverse=True)
    assert parse.ranking[0] == (parse.intent, parse.confidence)


def test_empty_text_is_unknown(nlu_interpreter: BuiltinInterpreter) -> None:
    assert nlu_interpreter.parse("", "en") == Parse.unknown()
    assert nlu_interpreter.parse("   \x00 ", "es") == Parse.unknown()


def test_only_enabled_languages_are_loaded(nlu_data_dir: Path, nlu_cache_dir: Path) -> None:
    # "de" has no training data: it falls back to the first enabled language's model.
    interpreter = BuiltinInterpreter(["es-MX", "de"], nlu_data_dir, cache_dir=nlu_cache_dir)
    assert interpreter.languages == ("es",)
    assert interpreter.default_language == "es"
    assert interpreter.parse("necesito ayuda", "de").intent == "request_help"


@pytest.mark.parametrize("language", ["en", "es"])
def test_training_data_covers_every_intent(language: str) -> None:
    data = load_nlu(dialogues_dir() / "nlu" / f"{language}.yml")
    counts = {intent: 0 for intent in INTENTS}
    for _, intent in data.examples:
        assert intent in counts, f"unknown intent {intent!r} in {language}.yml"
        counts[intent] += 1
    assert min(counts.values()) >= 25, counts

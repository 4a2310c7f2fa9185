"""Held-out floors for every language besides English and Spanish (those have their own file).

Each language is trained alone (only `dialogues/nlu/<lang>.yml`) and scored on
`tests/nlu_heldout/<lang>.yml`, sentences the classifier never saw in training.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.nlu.base import INTENTS, Parse
from bot.nlu.classifier import BuiltinInterpreter
from bot.nlu.evaluate import evaluate
from bot.nlu.normalize import normalize, tokens
from bot.nlu.training_data import load_nlu
from bot.paths import dialogues_dir

HELDOUT = Path(__file__).resolve().parents[1] / "nlu_heldout"
LANGUAGES = ["fr", "ht", "ru", "pt", "zh_Hans", "vi", "tl", "ko", "ar"]


def no_crisis(text: str, language: str, parse: Parse | None) -> str | None:
    return None


def nlu_only_crisis(text: str, language: str, parse: Parse | None) -> str | None:
    """Flags what the classifier alone calls a crisis (the lexicon detector is separate)."""
    if parse is not None and parse.intent.startswith("crisis_"):
        return parse.intent.removeprefix("crisis_")
    return None


def _key(text: str, language: str) -> str:
    """What the classifier sees: case, accents, punctuation and SMS shorthand folded away."""
    return " ".join(tokens(normalize(text, language)))


@pytest.fixture(scope="module", params=LANGUAGES)
def language_and_interpreter(
    request: pytest.FixtureRequest, nlu_data_dir: Path, nlu_cache_dir: Path
) -> tuple[str, BuiltinInterpreter]:
    language: str = request.param
    interpreter = BuiltinInterpreter([language], nlu_data_dir, cache_dir=nlu_cache_dir)
    assert interpreter.languages == (language,)
    return language, interpreter


def test_heldout_accuracy_floor(language_and_interpreter: tuple[str, BuiltinInterpreter]) -> None:
    language, interpreter = language_and_interpreter
    report = evaluate([HELDOUT / f"{language}.yml"], interpreter, crisis_detector=no_crisis)
    scores = report["languages"][language]
    assert scores["examples"] >= 150
    assert scores["accuracy"] >= 0.80, scores["confused"]
    assert scores["macro_f1"] >= 0.78, scores["confused"]


def test_classifier_alone_catches_heldout_crises(
    language_and_interpreter: tuple[str, BuiltinInterpreter],
) -> None:
    language, interpreter = language_and_interpreter
    files = [HELDOUT / f"{language}.yml"]
    crisis = evaluate(files, interpreter, crisis_detector=nlu_only_crisis)["crisis"]
    assert crisis["positives"] >= 16
    assert crisis["recall"] >= 0.90, crisis["missed"]
    assert crisis["false_positive_rate"] <= 0.03


@pytest.mark.parametrize("language", LANGUAGES)
def test_heldout_covers_every_intent(language: str) -> None:
    counts = {intent: 0 for intent in INTENTS}
    for _, intent in load_nlu(HELDOUT / f"{language}.yml").examples:
        assert intent in counts, f"unknown intent {intent!r} in held-out {language}.yml"
        counts[intent] += 1
    assert min(counts.values()) >= 8, counts


@pytest.mark.parametrize("language", LANGUAGES)
def test_training_data_covers_every_intent(language: str) -> None:
    data = load_nlu(dialogues_dir() / "nlu" / f"{language}.yml")
    counts = {intent: 0 for intent in INTENTS}
    for _, intent in data.examples:
        assert intent in counts, f"unknown intent {intent!r} in {language}.yml"
        counts[intent] += 1
    assert min(counts.values()) >= 25, counts
    assert data.lookups.get("language"), f"{language}.yml has no `lookup: language` table"


@pytest.mark.parametrize("language", LANGUAGES)
def test_heldout_sentences_are_not_training_sentences(language: str) -> None:
    """Compared after normalisation, so accent- or punctuation-only variants count as copies."""
    training_file = dialogues_dir() / "nlu" / f"{language}.yml"
    training = {_key(t, language) for t, _ in load_nlu(training_file).examples}
    heldout = [t for t, _ in load_nlu(HELDOUT / f"{language}.yml").examples]
    assert [t for t in heldout if _key(t, language) in training] == []


@pytest.mark.parametrize(
    ("language", "text", "code"),
    [
        ("zh_Hans", "英文", "en"),
        ("zh_Hans", "中文", "zh_Hans"),
        ("vi", "tiếng Anh", "en"),
        ("vi", "tieng viet", "vi"),
        ("tl", "english po", "en"),
        ("tl", "tagalog", "tl"),
        ("ko", "영어", "en"),
        ("ko", "한국어", "ko"),
        ("ar", "انجليزي", "en"),
        ("ar", "العربية", "ar"),
    ],
)
def test_language_names_in_each_language(
    nlu_data_dir: Path, nlu_cache_dir: Path, language: str, text: str, code: str
) -> None:
    interpreter = BuiltinInterpreter([language], nlu_data_dir, cache_dir=nlu_cache_dir)
    parse = interpreter.parse(text, language)
    assert parse.intent == "change_language"
    assert [(e.entity, e.value) for e in parse.entities] == [("language", code)]

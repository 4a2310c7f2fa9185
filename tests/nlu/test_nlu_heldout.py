"""Held-out accuracy floors: sentences the classifier never saw in training."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.nlu.base import Parse
from bot.nlu.classifier import BuiltinInterpreter
from bot.nlu.evaluate import evaluate, macro_f1
from bot.nlu.training_data import load_nlu
from bot.paths import dialogues_dir

HELDOUT = Path(__file__).resolve().parents[1] / "nlu_heldout"


def no_crisis(text: str, language: str, parse: Parse | None) -> str | None:
    return None


def nlu_only_crisis(text: str, language: str, parse: Parse | None) -> str | None:
    """Flags what the classifier alone calls a crisis (the lexicon detector is separate)."""
    if parse is not None and parse.intent.startswith("crisis_"):
        return parse.intent.removeprefix("crisis_")
    return None


@pytest.mark.parametrize("language", ["en", "es"])
def test_heldout_accuracy_floor(nlu_interpreter: BuiltinInterpreter, language: str) -> None:
    report = evaluate([HELDOUT / f"{language}.yml"], nlu_interpreter, crisis_detector=no_crisis)
    scores = report["languages"][language]
    assert scores["examples"] >= 150
    assert scores["accuracy"] >= 0.90, scores["confused"]
    assert scores["macro_f1"] >= 0.88


def test_classifier_alone_catches_heldout_crises(nlu_interpreter: BuiltinInterpreter) -> None:
    files = [HELDOUT / "en.yml", HELDOUT / "es.yml"]
    crisis = evaluate(files, nlu_interpreter, crisis_detector=nlu_only_crisis)["crisis"]
    assert crisis["recall"] >= 0.95, crisis["missed"]
    assert crisis["false_positive_rate"] <= 0.03


def test_with_the_real_crisis_detector(nlu_interpreter: BuiltinInterpreter) -> None:
    """The safety layer (lexicon + NLU) on held-out texts: the floors CI holds us to."""
    files = [HELDOUT / "en.yml", HELDOUT / "es.yml"]
    report = evaluate(files, nlu_interpreter)
    assert set(report["languages"]) == {"en", "es"}
    assert report["crisis"]["positives"] == sum(
        1 for f in files for _, i in load_nlu(f).examples if i.startswith("crisis_")
    )
    assert report["crisis"]["recall"] >= 0.98, report["crisis"]["missed"]
    assert report["crisis"]["false_positive_rate"] <= 0.03


@pytest.mark.parametrize("language", ["en", "es"])
def test_heldout_sentences_are_not_training_sentences(language: str) -> None:
    def key(text: str) -> str:
        return " ".join(text.casefold().split())

    training = {key(t) for t, _ in load_nlu(dialogues_dir() / "nlu" / f"{language}.yml").examples}
    heldout = [t for t, _ in load_nlu(HELDOUT / f"{language}.yml").examples]
    assert [t for t in heldout if key(t) in training] == []


def test_report_shape_and_language_override(nlu_interpreter: BuiltinInterpreter) -> None:
    report = evaluate(
        [HELDOUT / "es.yml"], nlu_interpreter, language_override="es-MX", crisis_detector=no_crisis
    )
    assert list(report["languages"]) == ["es-MX"]
    assert report["overall"]["examples"] == report["languages"]["es-MX"]["examples"]
    for gold, predicted, count in report["languages"]["es-MX"]["confused"]:
        assert gold != predicted and count >= 1
    assert report["crisis"]["recall"] == 0.0
    assert report["crisis"]["false_positive_rate"] == 0.0


@pytest.mark.parametrize(
    ("gold", "predicted", "expected"),
    [
        (["a", "b"], ["a", "b"], 1.0),
        (["a", "a"], ["b", "b"], 0.0),
        (["a", "b"], ["a", "a"], (2 / 3 + 0.0) / 2),
        ([], [], 0.0),
    ],
)
def test_macro_f1(gold: list[str], predicted: list[str], expected: float) -> None:
    assert macro_f1(gold, predicted) == pytest.approx(expected)


def test_crisis_floors_over_every_language(nlu_data_dir: Path, nlu_cache_dir: Path) -> None:
    """The floors hold over all held-out sets together: recall >= 0.98, FPR <= 0.03."""
    files = sorted(HELDOUT.glob("*.yml"))
    languages = [f.stem for f in files]
    interpreter = BuiltinInterpreter(languages, nlu_data_dir, cache_dir=nlu_cache_dir)
    report = evaluate(files, interpreter)
    assert set(report["languages"]) == set(languages) and len(languages) >= 11
    assert report["crisis"]["recall"] >= 0.98, report["crisis"]["missed"]
    assert report["crisis"]["false_positive_rate"] <= 0.03
    assert report["overall"]["accuracy"] >= 0.90

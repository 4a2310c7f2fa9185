"""Scoring an interpreter on labelled NLU files: accuracy, macro-F1, confusions, crisis recall."""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

from bot.nlu.base import CRISIS_INTENTS, Interpreter, Parse
from bot.nlu.training_data import load_nlu

#: `detect_crisis(text, language, parse)` -> "overdose" | "suicide" | None.
CrisisDetector = Callable[[str, str, Parse | None], str | None]


def _default_detector() -> CrisisDetector:
    """Imported late: bot.safety is its own component and pulls in its own lexicons."""
    module = importlib.import_module("bot.safety.crisis")
    return cast(CrisisDetector, module.detect_crisis)


def macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Unweighted mean F1 over every label seen in gold or predictions."""
    labels = set(gold) | set(predicted)
    if not labels:
        return 0.0
    total = 0.0
    for label in labels:
        tp = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p == label)
        fp = sum(1 for g, p in zip(gold, predicted, strict=True) if g != label and p == label)
        fn = sum(1 for g, p in zip(gold, predicted, strict=True) if g == label and p != label)
        total += 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return total / len(labels)


def _scores(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    correct = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p)
    return {
        "examples": len(gold),
        "accuracy": correct / len(gold) if gold else 0.0,
        "macro_f1": macro_f1(gold, predicted),
    }


def evaluate(
    files: list[Path],
    interpreter: Interpreter,
    language_override: str | None = None,
    *,
    crisis_detector: CrisisDetector | None = None,
) -> dict[str, Any]:
    """Per-language and overall intent scores plus how the crisis check does on the same texts.

    A file's language is `language_override` or its stem ("es.yml" -> "es").
    """
    detector = crisis_detector or _default_detector()
    by_language: dict[str, tuple[list[str], list[str]]] = {}
    positives = negatives = flagged_positives = flagged_negatives = 0
    missed: list[str] = []
    for path in files:
        language = language_override or path.stem
        gold, predicted = by_language.setdefault(language, ([], []))
        for text, intent in load_nlu(path).examples:
            parse = interpreter.parse(text, language)
            gold.append(intent)
            predicted.append(parse.intent)
            flagged = detector(text, language, parse) is not None
            if intent in CRISIS_INTENTS:
                positives += 1
                flagged_positives += flagged
                if not flagged:
                    missed.append(text)
            else:
                negatives += 1
                flagged_negatives += flagged
    languages: dict[str, Any] = {}
    all_gold: list[str] = []
    all_predicted: list[str] = []
    for language, (gold, predicted) in by_language.items():
        confused = Counter((g, p) for g, p in zip(gold, predicted, strict=True) if g != p)
        languages[language] = {
            **_scores(gold, predicted),
            "confused": [[g, p, n] for (g, p), n in confused.most_common()],
        }
        all_gold.extend(gold)
        all_predicted.extend(predicted)
    return {
        "languages": languages,
        "overall": _scores(all_gold, all_predicted),
        "crisis": {
            "recall": flagged_positives / positives if positives else 1.0,
            "false_positive_rate": flagged_negatives / negatives if negatives else 0.0,
            "positives": positives,
            "negatives": negatives,
            "missed": missed,
        },
    }

"""Crisis detection: the labelled evaluation set, the layered rules, robustness and speed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.nlu.base import Parse
from bot.safety.crisis import (
    CrisisDataError,
    CrisisDetector,
    crisis_lexicon_path,
    default_detector,
    detect_crisis,
    parse_lexicon,
)

CASES = Path(__file__).with_name("crisis_cases.yaml")
LANGUAGES = {"en", "es", "zh_Hans", "vi", "tl", "ar", "fr", "ht", "ko", "ru", "pt"}


def _cases() -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    data = yaml.safe_load(CASES.read_text(encoding="utf-8"))
    positives = [
        (kind, lang, text)
        for kind, by_lang in data["positives"].items()
        for lang, texts in by_lang.items()
        for text in texts
    ]
    negatives = [(lang, text) for lang, texts in data["negatives"].items() for text in texts]
    return positives, negatives


def test_evaluation_set_is_big_and_covers_every_language() -> None:
    positives, negatives = _cases()
    assert len(positives) >= 150
    assert len(negatives) >= 150
    assert {lang for _, lang, _ in positives} == LANGUAGES
    for kind in ("overdose", "suicide"):
        assert {lang for k, lang, _ in positives if k == kind} >= LANGUAGES - {"ru"} or kind


def test_recall_and_false_positive_rate_on_the_evaluation_set() -> None:
    positives, negatives = _cases()
    detector = default_detector()
    misses = [
        f"  MISS {kind}/{lang}: {text!r} -> {detector.explain(text, lang)}"
        for kind, lang, text in positives
        if detector.detect(text, lang) != kind
    ]
    false_alarms = [
        f"  FALSE {lang}: {text!r} -> {detector.explain(text, lang)}"
        for lang, text in negatives
        if detector.detect(text, lang) is not None
    ]
    recall = 1 - len(misses) / len(positives)
    fpr = len(false_alarms) / len(negatives)
    print(f"recall={recall:.3f} ({len(positives)} positives), fpr={fpr:.3f} ({len(negatives)})")
    report = "\n".join([*misses, *false_alarms])
    assert recall >= 0.98, f"recall {recall:.3f} < 0.98\n{report}"
    assert fpr <= 0.03, f"false-positive rate {fpr:.3f} > 0.03\n{report}"


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        # The message's language does not limit the search: people switch languages.
        ("no respira", "en", "overdose"),
        ("i want to die", "es", "suicide"),
        ("我想死", "en", "suicide"),
        # Overdose wins when both are present: 911 comes first.
        ("i took all my pills i want to die", "en", "overdose"),
        # Wanting to overdose is a plan, not an emergency yet.
        ("i want to od", "en", "suicide"),
        # A past overdose with a clear marker is not an emergency now...
        ("I used to overdose a lot, I'm ok now", "en", None),
        ("i overdosed 3 years ago", "en", None),
        # ...but a past marker in another clause does not cancel a current one,
        ("I used to OD a lot. my bf OD'd and he's not breathing", "en", "overdose"),
        ("i overdosed years ago. now my friend overdosed", "en", "overdose"),
        # ...and without a marker a past-tense overdose is treated as current.
        ("he od'd last night", "en", "overdose"),
        # A past suicide attempt still fires: the suicide flow is a check-in with 988.
        ("i tried to kill myself 2 years ago", "en", "suicide"),
        # "kys" alone is abuse aimed at someone else; first person plus kys is not.
        ("kys", "en", None),
        ("gonna kys", "en", "suicide"),
        # An idiom cancels only the match it overlaps.
        ("dying to see my kids but my friend isnt breathing", "en", "overdose"),
        ("me muero de hambre", "es", None),
        ("lol jk i want to die", "en", "suicide"),
        # Normalisation: leetspeak, stretched letters, accents, emoji.
        ("k1ll mys3lf", "en", "suicide"),
        ("hes 0d'ing 😭😭", "en", "overdose"),
        ("i wanna diiieee", "en", "suicide"),
        ("SE ESTÁ MURIENDO", "es", "overdose"),
        ("", "en", None),
        ("   ", "en", None),
    ],
)
def test_detection_rules(text: str, language: str, expected: str | None) -> None:
    assert detect_crisis(text, language) == expected


@pytest.mark.parametrize(
    ("text", "parse", "expected"),
    [
        # The NLU catches what the lexicon does not know...
        ("everything is grey and i keep slipping away", Parse("crisis_suicide", 0.8), "suicide"),
        ("he looks really bad after that shot", Parse("crisis_overdose", 0.9), "overdose"),
        # ...but only when fairly sure,
        ("he looks really bad after that shot", Parse("crisis_overdose", 0.44), None),
        # and never over a joke or an idiom the lexicon knows.
        ("that exam nearly finished me lol", Parse("crisis_suicide", 0.9), None),
        ("i'm dying to see my kids", Parse("crisis_overdose", 0.9), None),
        ("i overdosed years ago", Parse("crisis_overdose", 0.9), None),
        # A crisis intent ranked second with high confidence still counts.
        (
            "hmm",
            Parse("request_help", 0.7, (("request_help", 0.7), ("crisis_suicide", 0.65))),
            "suicide",
        ),
        # Other intents never make a crisis.
        ("yes", Parse("affirm", 0.99), None),
        ("hmm", Parse("crisis_suicide", float("nan")), None),
        # The lexicon wins over a disagreeing NLU.
        ("no respira", Parse("affirm", 0.99), "overdose"),
    ],
)
def test_nlu_layer(text: str, parse: Parse, expected: str | None) -> None:
    assert detect_crisis(text, "en", parse) == expected


def test_injected_lexicon_and_threshold() -> None:
    lexicon = parse_lexicon({"suicide": {"en": ["blorp"]}, "nlu_threshold": 0.9})
    detector = CrisisDetector(lexicon)
    assert detector.detect("blorp", "en") == "suicide"
    assert detector.detect("i want to die", "en") is None
    assert detector.detect("x", "en", Parse("crisis_overdose", 0.8)) is None
    assert CrisisDetector(lexicon, nlu_threshold=0.5).detect(
        "x", "en", Parse("crisis_overdose", 0.8)
    )


@pytest.mark.parametrize(
    "data",
    [
        {"suicide": {"en": ["("]}},
        {"suicide": {"en": "not a list"}},
        {"suicide": {"en": ["{NOPE}"]}},
        {"nlu_threshold": 2},
        {"boundaries": {"en": "sideways"}},
        # squeezed to "哈*", which would match every message
        {"jokes": {"zh_Hans": ["哈哈*"]}, "boundaries": {"zh_Hans": "none"}},
        ["not", "a", "mapping"],
    ],
)
def test_bad_data_fails_at_load(data: object) -> None:
    with pytest.raises(CrisisDataError):
        parse_lexicon(data)


def test_shipped_lexicon_covers_every_language() -> None:
    data = yaml.safe_load(crisis_lexicon_path().read_text(encoding="utf-8"))
    assert set(data["overdose"]) == LANGUAGES
    assert set(data["suicide"]) == LANGUAGES


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=300))
@example("a" * 10_000)
@example("\x00\x1b\u200d\ud800\udfff stop \ufffd" * 50)
@example("😭" * 5000)
@example("k1ll " * 2000)
def test_never_raises(text: str) -> None:
    assert detect_crisis(text, "en") in (None, "overdose", "suicide")
    assert detect_crisis(text, "xx", Parse("crisis_suicide", 0.99)) in (None, "overdose", "suicide")

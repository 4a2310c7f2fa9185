"""Person-first language, reading level and SMS cost checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.dialogue.lint import (
    StigmaTerms,
    grade_level,
    intake_path,
    lint_all,
    lint_stigma,
    path_messages,
    reading_report,
)
from bot.dialogue.loader import load_all, texts
from bot.paths import dialogues_dir

TERMS = StigmaTerms.load(dialogues_dir() / "stigma_terms.yaml")


@pytest.mark.parametrize(
    ("language", "text", "expected"),
    [
        ("en", "Are you an addict?", ["addict"]),
        ("en", "Substance Abuse help", ["substance abuse"]),
        ("en", "Stay clean today", ["clean"]),
        ("en", "We give out clean needles for free", []),  # harm reduction: allowed
        ("en", "A person who uses drugs", []),
        ("en", "addiction treatment", []),  # whole words only: "addict" is not "addiction"
        ("es", "¿Eres ADICTO?", ["adicto"]),
        ("es", "Tuviste una recaida", ["recaída"]),  # accents do not matter
        ("es", "jeringas limpias gratis", []),
        ("fr", "Vous êtes toxicomane", ["toxicomane"]),
        ("pt", "Você é viciado?", ["viciado"]),
        ("es", "ayuda para un junkie", ["junkie"]),  # English loan words are checked too
        ("zh_Hans", "我们在这里帮助你", []),
    ],
)
def test_stigma_terms(language: str, text: str, expected: list[str]) -> None:
    problems = lint_stigma([(language, "msgid", text)], TERMS)
    assert [p.message.split("'")[1] for p in problems] == [
        term.replace("í", "i") for term in expected
    ]
    assert all(p.language == language and p.msgid == "msgid" for p in problems)


def test_the_shipped_dialogues_and_catalogs_are_person_first(tmp_path: Path) -> None:
    specs, _ = load_all(dialogues_dir())
    from bot.paths import locales_dir

    msgids = [t for spec in specs.values() for t in texts(spec)]
    problems, report = lint_all(specs, msgids, locales_dir(), TERMS)
    assert problems == []
    assert any(line.startswith("reading level") for line in report)
    assert any(line.startswith("SMS segments on the intake path, en:") for line in report)


def test_a_stigmatizing_translation_fails_naming_locale_and_msgid(tmp_path: Path) -> None:
    po = tmp_path / "es" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text('msgid ""\nmsgstr ""\n\nmsgid "Hello"\nmsgstr "Hola, adicto"\n', "utf-8")
    specs, _ = load_all(dialogues_dir())
    problems, _ = lint_all(specs, ["Hello"], tmp_path, TERMS)
    assert [str(p) for p in problems] == ["es: 'Hello': stigmatizing term 'adicto'"]


def test_reading_level() -> None:
    easy = grade_level("Are you safe right now? We are here for you.")
    hard = grade_level(
        "Pharmacological interventions substantially mitigate physiological dependence."
    )
    assert easy < 6 < hard
    report = reading_report(["Yes", "Afternoon", "Are you safe right now? We can help."])
    assert [text for text, _ in report.grades] == ["Are you safe right now? We can help."]


def test_the_intake_reads_at_grade_eight_or_below() -> None:
    specs, _ = load_all(dialogues_dir())
    assert reading_report(texts(specs["intake"])).average <= 8


def test_the_intake_path_and_its_messages() -> None:
    specs, _ = load_all(dialogues_dir())
    intake = specs["intake"]
    assert list(intake_path(intake))[-1] == "handoff"
    sent = dict(path_messages(intake, {"Morning": "Mañana"}))
    assert "2. Mañana" in sent["When is a good time?"]

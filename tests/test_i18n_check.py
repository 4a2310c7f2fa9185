"""`doorway i18n check` on temporary catalogs: each broken entry fails, naming locale and msgid."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog

from bot import i18n_cli
from bot.i18n_catalogs import catalog_path, read_template, update_catalogs, write_template
from bot.i18n_check import check_all

MSGIDS = [
    "SKIP",
    "Thank you, {name}.",
    "You can reply SKIP to skip this question.",
    "Reply STOP to cancel.",
    "Hello",
]
GOOD = {
    "SKIP": "SALTAR",
    "Thank you, {name}.": "Gracias, {name}.",
    "You can reply SKIP to skip this question.": "Puedes responder SALTAR para saltarla.",
    "Reply STOP to cancel.": "Responde STOP para cancelar.",
    "Hello": "Hola",
}


def _po(entries: dict[str, str], fuzzy: frozenset[str] = frozenset()) -> str:
    lines = ['msgid ""', 'msgstr ""', '"Content-Type: text/plain; charset=utf-8\\n"', ""]
    for msgid, msgstr in entries.items():
        if msgid in fuzzy:
            lines.append("#, fuzzy")
        lines += [f'msgid "{msgid}"', f'msgstr "{msgstr}"', ""]
    return "\n".join(lines)


@pytest.fixture
def locales(tmp_path: Path) -> Path:
    template = Catalog(fuzzy=False)
    for msgid in MSGIDS:
        template.add(msgid)
    write_template(template, tmp_path / "messages.pot")
    return tmp_path


def _write(locales: Path, text: str, language: str = "es") -> None:
    path = catalog_path(locales, language)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def main(argv: list[str]) -> int:
    """The `i18n` commands alone, as `doorway` registers them."""
    parser = argparse.ArgumentParser()
    i18n_cli.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


def _problems(locales: Path) -> list[str]:
    template = read_template(locales / "messages.pot")
    return [str(p) for r in check_all(locales, template) for p in r.problems]


def test_a_complete_catalog_passes(locales: Path) -> None:
    _write(locales, _po(GOOD))
    reports = check_all(locales, read_template(locales / "messages.pot"))
    assert [(r.language, r.translated, r.total, r.problems) for r in reports] == [("es", 5, 5, ())]


@pytest.mark.parametrize(
    ("change", "fuzzy", "expected"),
    [
        # an empty msgstr
        ({"Hello": ""}, frozenset(), "es: 'Hello': missing translation"),
        # a fuzzy entry never reaches people
        ({}, frozenset({"Hello"}), "es: 'Hello': fuzzy"),
        # a placeholder renamed by the translator
        ({"Thank you, {name}.": "Gracias, {nombre}."}, frozenset(), "missing placeholder {name}"),
        ({"Thank you, {name}.": "Gracias, {nombre}."}, frozenset(), "unknown placeholder"),
        # a brace left open
        ({"Thank you, {name}.": "Gracias, {name."}, frozenset(), "broken placeholder"),
        # the keyword's own translation is SALTAR, so the hint must say SALTAR
        (
            {"You can reply SKIP to skip this question.": "Puedes responder OMITIR."},
            frozenset(),
            "keyword SKIP must appear as 'SALTAR'",
        ),
        # STOP is a carrier keyword: literal in every language
        ({"Reply STOP to cancel.": "Responde ALTO para cancelar."}, frozenset(), "STOP"),
    ],
)
def test_each_broken_entry_fails(
    locales: Path, change: dict[str, str], fuzzy: frozenset[str], expected: str
) -> None:
    _write(locales, _po({**GOOD, **change}, fuzzy))
    problems = _problems(locales)
    assert any(expected in p and p.startswith("es:") for p in problems), problems


def test_an_entry_missing_from_the_catalog_fails(locales: Path) -> None:
    _write(locales, _po({k: v for k, v in GOOD.items() if k != "Hello"}))
    assert "es: 'Hello': missing from the catalog" in _problems(locales)


def test_a_catalog_that_does_not_parse_fails(locales: Path) -> None:
    _write(locales, 'msgid "Hello"\nmsgstr "Hola\nmsgid broken\n')
    assert any("does not parse" in p for p in _problems(locales))


def test_update_creates_and_merges_without_fuzzy_guesses(locales: Path) -> None:
    _write(locales, _po({"Helo": "Hola"}))
    update_catalogs(locales, read_template(locales / "messages.pot"), create=["vi", "en"])
    assert catalog_path(locales, "vi").is_file()
    assert not catalog_path(locales, "en").exists()  # English is the source
    text = catalog_path(locales, "es").read_text(encoding="utf-8")
    assert "fuzzy" not in text
    assert 'msgid "Hello"\nmsgstr ""' in text


def test_the_command_exits_1_and_names_the_problem(
    locales: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(locales, _po({**GOOD, "Hello": ""}))
    assert main(["i18n", "check", "--locales", str(locales), "--skip-source"]) == 1
    assert "es: 'Hello': missing translation" in capsys.readouterr().out


def test_the_command_prints_ok_with_counts(
    locales: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(locales, _po(GOOD))
    assert main(["i18n", "check", "--locales", str(locales), "--skip-source"]) == 0
    out = capsys.readouterr().out
    assert "OK es: 5/5 translated" in out
    assert "OK en: source language" in out

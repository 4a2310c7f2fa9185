"""The catalog extractor finds every dialogue string, every N_ constant and template text."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from bot.dialogue.extract import extract_dialogue
from bot.dialogue.loader import load_all, texts
from bot.i18n_catalogs import SOURCE_ROOT, extract_template, msgids
from bot.paths import dialogues_dir


@pytest.fixture(scope="module")
def extracted() -> set[str]:
    return msgids(extract_template())


def test_every_dialogue_string_is_extracted(extracted: set[str]) -> None:
    specs, problems = load_all(dialogues_dir())
    assert problems == []
    for spec in specs.values():
        assert [t for t in texts(spec) if t not in extracted] == []


def test_every_n_constant_is_extracted(extracted: set[str]) -> None:
    marked = re.compile(r'N_\(\s*((?:"[^"]*"\s*)+)\)')
    sources = [*SOURCE_ROOT.glob("bot/**/*.py"), *SOURCE_ROOT.glob("connectors/**/*.py")]
    found = set()
    for path in sources:
        for match in marked.finditer(path.read_text(encoding="utf-8")):
            found.add("".join(re.findall(r'"([^"]*)"', match.group(1))))
    assert found, "the pattern should see the N_ constants"
    assert sorted(found - extracted) == []


def test_keywords_and_web_page_strings_are_extracted(extracted: set[str]) -> None:
    assert {"SKIP", "PERSON", "RESTART", "WITHDRAW", "Send", "Type a message"} <= extracted


def test_the_extractor_names_the_step_and_the_line() -> None:
    source = b"""id: demo
start: hello
answers:
  ask_cost: "It is free."
steps:
  hello:
    say:
      - "Hi there."
      - text: "Welcome back."
        when: name
    ask: "How are you?"
    choices:
      - value: ok
        label: "Fine"
"""
    found = list(extract_dialogue(io.BytesIO(source), [], [], {}))
    assert found == [
        (4, None, "It is free.", ["answers.ask_cost"]),
        (8, None, "Hi there.", ["step: hello"]),
        (9, None, "Welcome back.", ["step: hello"]),
        (11, None, "How are you?", ["step: hello"]),
        (14, None, "Fine", ["step: hello (choice label)"]),
    ]


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(b"organisation: A program\nlanguages: [en]\n", id="a program file"),
        pytest.param(b"steps: [unclosed\n", id="broken yaml"),
        pytest.param(b"- just a list\n", id="not a mapping"),
    ],
)
def test_files_that_are_not_flows_yield_nothing(source: bytes) -> None:
    assert list(extract_dialogue(io.BytesIO(source), [], [], {})) == []


def test_the_shipped_template_is_up_to_date(extracted: set[str]) -> None:
    from bot.i18n_catalogs import read_template
    from bot.paths import locales_dir

    template = Path(locales_dir()) / "messages.pot"
    assert msgids(read_template(template)) == extracted

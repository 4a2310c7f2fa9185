"""The dialogue loader refuses broken flows with one line per problem, naming file and step."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.dialogue.loader import load_all, load_file

GOOD = """
id: tiny
start: ask
steps:
  ask:
    ask: "Pick one"
    slot: pick
    choices:
      - {value: a, label: "A", next: done}
      - {value: b, label: "B", next: done}
  done:
    say: ["Bye"]
    end: true
"""

LOOP = """  loop:
    ask: "again?"
    slot: again
    choices:
      - {value: x, label: "X", next: loop}
"""
CHOICES = """    choices:
      - {value: a, label: "A", next: done}
      - {value: b, label: "B", next: done}
"""

BROKEN = [
    # (label, yaml, expected fragment of a problem line)
    (
        "unknown next",
        GOOD.replace("next: done}\n      - {value: b", "next: nowhere}\n      - {value: b"),
        "ask: goes to unknown step 'nowhere'",
    ),
    ("unknown start", GOOD.replace("start: ask", "start: missing"), "start: unknown step"),
    (
        "unreachable step",
        GOOD + '  orphan:\n    say: ["x"]\n    end: true\n',
        "orphan: cannot be reached",
    ),
    (
        "no path ends",
        GOOD.replace(
            'next: done}\n      - {value: b, label: "B", next: done}',
            'next: loop}\n      - {value: b, label: "B", next: loop}',
        )
        + LOOP,
        "no path from here reaches an end",
    ),
    (
        "choice without target",
        GOOD.replace(
            '      - {value: b, label: "B", next: done}', '      - {value: b, label: "B"}'
        ),
        "every choice needs a `next`",
    ),
    (
        "question without choices",
        GOOD.replace(
            CHOICES,
            "",
        ),
        "a choice question needs choices",
    ),
    (
        "unknown placeholder",
        GOOD.replace('"Bye"', '"Bye {nobody}"'),
        "unknown placeholder {nobody}",
    ),
    ("unknown field", GOOD.replace("    end: true", "    end: true\n    colour: red"), "colour"),
    ("not yaml", "id: [unclosed", "cannot read"),
]


def test_good_flow_has_no_problems(tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(GOOD)
    spec, problems = load_file(path)
    assert spec is not None
    assert problems == []


@pytest.mark.parametrize(("label", "text", "fragment"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_flow_is_reported(tmp_path: Path, label: str, text: str, fragment: str) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(text)
    _, problems = load_file(path)
    lines = [str(p) for p in problems]
    assert any(fragment in line for line in lines), lines
    assert all(line.startswith("tiny.yaml") for line in lines)


def test_program_files_are_not_flows(tmp_path: Path) -> None:
    (tmp_path / "tiny.yaml").write_text(GOOD)
    (tmp_path / "program.demo.yaml").write_text("organisation: x\n")
    specs, problems = load_all(tmp_path)
    assert list(specs) == ["tiny"]
    assert problems == []

"""The `doorway` command, run as a real subprocess the way a person or a script would."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import COMMAND_MODULES
from tests.conftest import TEST_ENCRYPTION_KEY, TEST_INDEX_KEY


def command_environment(tmp_path: Path, **env: str) -> dict[str, str]:
    """This process's environment without any Doorway or provider setting, on a fresh data
    folder with the test keys: what a command line in a test runs with."""
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DOORWAY_", "TWILIO_", "TELEGRAM_"))
    }
    environment.update(
        DOORWAY_DATA_DIR=str(tmp_path / "data"),
        DOORWAY_ENCRYPTION_KEYS=TEST_ENCRYPTION_KEY,
        DOORWAY_INDEX_KEY=TEST_INDEX_KEY,
    )
    environment.update(env)
    return environment


def run(
    args: list[str], tmp_path: Path, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=command_environment(tmp_path, **env),
        cwd=tmp_path,
        timeout=120,
    )


def test_dialogues_check_ok() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "dialogues", "check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("OK: ")


def test_dialogues_check_reports_problems(tmp_path: Path) -> None:
    folder = tmp_path / "dialogues"
    folder.mkdir()
    (folder / "program.demo.yaml").write_text("organisation: x\nshort_name: x\nhotline: '1'\n")
    (folder / "bad.yaml").write_text(
        "id: bad\nstart: a\nsteps:\n  a:\n    say: ['x']\n    next: b\n"
    )
    result = run(["dialogues", "check"], tmp_path, DOORWAY_DIALOGUES_DIR=str(folder))
    assert result.returncode == 1
    assert "bad.yaml: a: goes to unknown step 'b'" in result.stdout


def test_scripted_chat_then_handoffs_list(tmp_path: Path) -> None:
    script = "hi\n1\nKim\nyes\n1\n1\nyes\n"
    chat = run(["chat", "--address", "script-1"], tmp_path, stdin=script)
    assert chat.returncode == 0, chat.stderr
    assert "bot> What kind of help would you like?" in chat.stdout
    assert "bot> 1. Talk with someone today" in chat.stdout
    assert "Thank you, Kim." in chat.stdout
    listing = run(["handoffs", "list", "--json"], tmp_path)
    assert listing.returncode == 0, listing.stderr
    rows = [json.loads(line) for line in listing.stdout.splitlines()]
    assert len(rows) == 1
    assert rows[0]["status"] == "requested"
    assert rows[0]["urgency"] == "today"
    assert {"id", "code", "status", "urgency", "pathway", "language", "created_at"} <= set(rows[0])
    assert rows[0]["seconds_to_accept"] is None  # nobody has accepted yet
    shown = run(["handoffs", "show", rows[0]["code"]], tmp_path)
    assert "handoff_requested" in shown.stdout and "Kim" not in shown.stdout


BAD_SETTINGS = [
    # (variable, value, words the one-line error must contain)
    ("DOORWAY_PUBLIC_URL", "ftp://x", "DOORWAY_PUBLIC_URL"),
    ("DOORWAY_PROGRAM", "/nonexistent/program.yaml", "cannot read the program file"),
    ("DOORWAY_ENCRYPTION_KEYS", "not-a-key", "DOORWAY_ENCRYPTION_KEYS"),
    ("DOORWAY_INDEX_KEY", "short", "DOORWAY_INDEX_KEY"),
]


@pytest.mark.parametrize(("name", "value", "words"), BAD_SETTINGS, ids=[b[0] for b in BAD_SETTINGS])
def test_bad_setting_stops_with_one_line(tmp_path: Path, name: str, value: str, words: str) -> None:
    result = run(["db", "upgrade"], tmp_path, **{name: value})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert words in lines[0]


def test_bad_program_field_names_file_field_and_reason(tmp_path: Path) -> None:
    program = tmp_path / "program.yaml"
    program.write_text("organisation: X\nshort_name: X\nhotline: '1'\ntimezone: Mars/Base\n")
    result = run(["db", "upgrade"], tmp_path, DOORWAY_PROGRAM=str(program))
    assert result.returncode == 2
    assert f"{program}: timezone: " in result.stderr
    assert "Mars/Base" in result.stderr


def test_keys_generate_prints_usable_keys(tmp_path: Path) -> None:
    result = run(["keys", "generate"], tmp_path)
    values = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert set(values) == {"DOORWAY_ENCRYPTION_KEYS", "DOORWAY_INDEX_KEY", "DOORWAY_SECRET_KEY"}
    upgrade = run(["db", "upgrade"], tmp_path, **values)
    assert upgrade.returncode == 0, upgrade.stderr


@pytest.mark.parametrize("module", list(COMMAND_MODULES))
def test_each_component_adds_exactly_the_commands_it_is_listed_for(module: str) -> None:
    """The list decides what a command line imports: a command missing from it would load every
    component (slow, still correct); one listed for the wrong module would not be found."""
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    importlib.import_module(module).register(sub)
    assert set(sub.choices) == set(COMMAND_MODULES[module])


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["keys", "generate"], {"bot.privacy_commands"}),
        (["responders", "list"], {"bot.handoff.cli", "bot.responder_links"}),
        (["db", "upgrade"], set()),
        (["--help"], set(COMMAND_MODULES)),
        (["no-such-command"], set(COMMAND_MODULES)),  # argparse names every real choice
    ],
)
def test_a_command_line_loads_only_the_components_it_needs(
    words: list[str], expected: set[str]
) -> None:
    """Run in a fresh interpreter: a management command starts in about half the time when it
    does not import the web app, Telegram or the NLU tools."""
    probe = (
        "import sys\nfrom bot.cli import COMMAND_MODULES, build_parser, command_word\n"
        f"build_parser(command_word({words!r}))\n"
        "print(','.join(sorted(m for m in COMMAND_MODULES if m in sys.modules)))\n"
        "print('fastapi' in sys.modules, 'telegram' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    assert set(filter(None, out[0].split(","))) == expected
    if not expected:
        assert out[1] == "False False"


def test_a_core_command_word_still_gets_its_component_subcommands(tmp_path: Path) -> None:
    """`keys` is both a core command (generate) and a component's (rotate)."""
    result = run(["keys", "--help"], tmp_path)
    assert result.returncode == 0
    assert "generate" in result.stdout and "rotate" in result.stdout

"""`doorway keys rotate`, `purge` and `contacts erase` as an operator runs them: counts only."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from bot.crypto import generate_encryption_key
from bot.paths import dialogues_dir
from tests.conftest import TEST_ENCRYPTION_KEY, TEST_INDEX_KEY
from tests.privacy_support import ANSWERS, PHONE, PHRASE, secrets_in


def doorway(args: list[str], tmp_path: Path, stdin: str = "", **env: str) -> str:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DOORWAY_")}
    # English only: this test reads the replies, and its made-up first words could be
    # taken for another language by the demo program's detection.
    program = tmp_path / "program.yaml"
    demo = (dialogues_dir() / "program.demo.yaml").read_text(encoding="utf-8")
    program.write_text(re.sub(r"(?m)^languages: .*$", "languages: [en]", demo), encoding="utf-8")
    environment.update(
        DOORWAY_DATA_DIR=str(tmp_path / "data"),
        DOORWAY_ENCRYPTION_KEYS=TEST_ENCRYPTION_KEY,
        DOORWAY_INDEX_KEY=TEST_INDEX_KEY,
        DOORWAY_PROGRAM=str(program),
    )
    environment.update(env)
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_privacy_commands_print_counts_and_nothing_personal(tmp_path: Path) -> None:
    chat = doorway(["chat", "--address", PHONE], tmp_path, stdin="\n".join([PHRASE, *ANSWERS]))
    assert "will reach out" in chat

    outputs = [doorway(["purge", "--dry-run"], tmp_path)]
    assert "message_bodies: 0" in outputs[0] and "Dry run" in outputs[0]

    both = f"{generate_encryption_key()},{TEST_ENCRYPTION_KEY}"
    outputs.append(
        doorway(["keys", "rotate", "--batch-size", "3"], tmp_path, DOORWAY_ENCRYPTION_KEYS=both)
    )
    assert "Rotation complete" in outputs[-1] and "messages.body: " in outputs[-1]

    outputs.append(doorway(["contacts", "erase", "1"], tmp_path, DOORWAY_ENCRYPTION_KEYS=both))
    assert "Contact 1 erased" in outputs[-1]
    outputs.append(doorway(["contacts", "erase", "1"], tmp_path, DOORWAY_ENCRYPTION_KEYS=both))
    assert "already erased" in outputs[-1]

    for output in outputs:
        assert secrets_in(output) == [], output

"""A wheel carries the dialogues, NLU data, safety lexicons and catalogs it needs at run time,
so a non-editable install finds them under `<prefix>/share/doorway/`."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_the_data_folders(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(tmp_path.glob("doorway-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    data = "doorway-0.1.0.data/data/share/doorway/"
    expected = [
        "dialogues/intake.yaml",
        "dialogues/followup.yaml",
        "dialogues/program.demo.yaml",
        "dialogues/nlu/en.yml",
        "dialogues/safety/crisis.yaml",
        "locales/messages.pot",
        *[
            f"locales/{p.parent.parent.name}/LC_MESSAGES/messages.po"
            for p in (ROOT / "locales").glob("*/LC_MESSAGES/messages.po")
        ],
    ]
    missing = [name for name in expected if data + name not in names]
    assert missing == []
    assert "bot/web/templates/chat.html" in names
    assert "bot/migrations/versions/0001_initial_schema.py" in names

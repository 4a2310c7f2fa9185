"""A server process freezes what start-up loaded, so the garbage collector's full collections
stop walking the dialogues, catalogs, models and routes (85-130 ms pauses under load before)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.test_cli import command_environment

PROBE = """
import gc, json
from bot.web.factory import app
app()
print(json.dumps({"frozen": gc.get_freeze_count(), "tracked": len(gc.get_objects())}))
"""


def test_a_server_process_leaves_the_collector_only_what_it_made_after_start_up(
    tmp_path: Path,
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        env=command_environment(tmp_path),
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    heap = json.loads(result.stdout.strip().splitlines()[-1])
    assert heap["frozen"] > 50_000  # the app, its models and catalogs
    assert heap["tracked"] < heap["frozen"] / 10  # what a full collection still walks

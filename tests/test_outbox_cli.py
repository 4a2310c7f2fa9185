"""`doorway worker --once`, `doorway outbox status` and `dialogues check --segments`, run as
real subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.test_cli import run


def test_outbox_status_on_a_fresh_database(tmp_path: Path) -> None:
    result = run(["outbox", "status", "--json"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "queued": 0,
        "due": 0,
        "running": 0,
        "failed": 0,
        "lag_seconds": 0.0,
    }


def test_worker_once_with_nothing_to_do(tmp_path: Path) -> None:
    result = run(["worker", "--once"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "Handled 0 outbox jobs."


def test_a_half_configured_twilio_names_the_missing_variable(tmp_path: Path) -> None:
    result = run(["worker", "--once"], tmp_path, TWILIO_ACCOUNT_SID="AC" + "a1" * 16)
    assert result.returncode == 2
    assert (
        result.stderr.strip() == "doorway: TWILIO_AUTH_TOKEN: not set (needed for the SMS channel)"
    )


def test_dialogues_check_segments_lists_every_text(tmp_path: Path) -> None:
    result = run(["dialogues", "check", "--segments"], tmp_path)
    lines = result.stdout.strip().splitlines()
    english = [line for line in lines if line[2:].startswith("en ")]
    assert any("GSM-7" in line for line in english)
    assert any("You are unsubscribed" in line for line in english)
    flagged = [line for line in lines if line.startswith("!")]
    assert all(line[2:].startswith("en ") for line in flagged)
    assert result.returncode == (1 if flagged else 0)
    assert lines[-1].endswith(f"{len(flagged)} English texts over 2 segments")


def test_a_separate_worker_runs_the_same_timers_as_the_server_without_the_web_app() -> None:
    """`doorway worker` registers every timer `serve` does, and loads no FastAPI, Starlette,
    Jinja2 or uvicorn to do it: a separate worker process is that much smaller."""
    probe = (
        "import sys\nfrom bot.outbox.worker import TIMERS, load_timers\nload_timers()\n"
        "print(sorted(TIMERS))\n"
        "web = ('fastapi', 'starlette', 'python_multipart', 'jinja2', 'uvicorn')\n"
        "print(sorted(m for m in web if m in sys.modules))\n"
        "import bot.web.app\nprint(sorted(TIMERS))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    worker_timers, web_modules, server_timers = out
    assert worker_timers == server_timers != "[]"
    assert web_modules == "[]"

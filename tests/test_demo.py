"""`doorway demo` as a person runs it: a real server process, the page, a whole conversation."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, Path, list[str]]]:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DOORWAY_", "TWILIO_", "TELEGRAM_"))
    }
    env["DOORWAY_DATA_DIR"] = str(tmp_path / "data")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    lines: list[str] = []
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip())
            if line.startswith("Doorway is running"):
                break
        for _ in range(100):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("demo did not answer:\n" + "\n".join(lines))
        yield base, tmp_path / "data", lines
    finally:
        process.terminate()
        process.wait(timeout=20)
        if process.stdout is not None:
            process.stdout.close()


def test_demo_serves_the_chat_and_books_a_handoff(demo: tuple[str, Path, list[str]]) -> None:
    base, data_dir, lines = demo
    output = "\n".join(lines)
    assert f"Doorway is running: {base}/" in output
    assert "SMS (Twilio): off" in output
    assert "Telegram: off" in output
    assert "Seeded 2 demo coaches" in output
    assert "Demo keys: generated and stored" in output
    keys = data_dir / "keys.env"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600

    page = httpx.get(f"{base}/")
    assert page.status_code == 200 and "Doorway Demo" in page.text
    token = httpx.post(f"{base}/api/chat/session").json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    for i, text in enumerate(["hello", "1", "Lee", "yes", "1", "asap", "yes"]):
        response = httpx.post(
            f"{base}/api/chat/messages", headers=headers, json={"text": text, "client_id": f"d{i}"}
        )
        assert response.status_code == 200, response.text
    assert "A peer recovery coach will reach out" in response.json()["replies"][-1]["text"]

    engine = sa.create_engine(f"sqlite:///{data_dir / 'doorway.sqlite3'}")
    with engine.connect() as connection:
        statuses = connection.execute(sa.text("SELECT status, urgency FROM handoffs")).all()
        coaches = connection.execute(sa.text("SELECT count(*) FROM responders")).scalar()
        shifts = connection.execute(sa.text("SELECT count(*) FROM shifts")).scalar()
    engine.dispose()
    assert statuses == [("requested", "today")]
    assert coaches == 2 and shifts == 14

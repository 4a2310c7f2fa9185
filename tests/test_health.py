"""/healthz answers while the process is up; /readyz checks database, migrations, channels."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.nlu.base import Interpreter
from bot.services import Services, build_services
from bot.web.app import create_app
from bot.web.health import check_channels
from tests.conftest import FakeClock, make_settings


def test_healthz_and_readyz_on_a_migrated_database(
    sqlite_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TELEGRAM_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    with TestClient(create_app(sqlite_services)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
    assert ready.status_code == 200
    checks = ready.json()["checks"]
    assert {name: check["ok"] for name, check in checks.items()} == {
        "database": True,
        "migrations": True,
        "channels": True,
    }


def test_readyz_is_503_until_migrations_run(
    tmp_path: Path, interpreter: Interpreter, clock: FakeClock
) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    services = build_services(make_settings(url, tmp_path), interpreter=interpreter, clock=clock)
    try:
        with TestClient(create_app(services)) as client:
            assert client.get("/healthz").status_code == 200  # liveness never needs the database
            ready = client.get("/readyz")
    finally:
        services.close()
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["migrations"] == {
        "ok": False,
        "detail": "behind: run `doorway db upgrade`",
    }


@pytest.mark.parametrize(
    ("configured", "mounted", "expected"),
    [
        # nothing optional configured: the web chat alone is ready
        ({"sms": False, "telegram": False}, {"web"}, (True, "web")),
        # SMS credentials set and the connector running
        ({"sms": True, "telegram": False}, {"web", "sms"}, (True, "sms, web")),
        # SMS credentials set but the connector failed to mount: not ready
        ({"sms": True, "telegram": False}, {"web"}, (False, "configured but not running: sms")),
        # no channel at all
        ({"sms": False, "telegram": False}, set(), (False, "no channel")),
    ],
)
def test_channels_check(
    configured: dict[str, bool], mounted: set[str], expected: tuple[bool, str]
) -> None:
    assert check_channels(configured, mounted) == expected


TELEMETRY_PROBE = """
import sys, tempfile
from pathlib import Path
from opentelemetry import trace

asked = []


class RecordingProvider(trace.TracerProvider):
    def get_tracer(self, *args, **kwargs):
        asked.append(args)
        return trace.NoOpTracer()


trace.set_tracer_provider(RecordingProvider())
from fastapi.testclient import TestClient

from bot.services import build_services
from bot.web.app import create_app
from tests.conftest import make_settings

folder = Path(tempfile.mkdtemp())
services = build_services(make_settings(f"sqlite:///{folder / 'd.sqlite3'}", folder))
with TestClient(create_app(services)) as client:
    assert client.get("/healthz").status_code == 200
    assert client.get("/nowhere").status_code == 404
print(len(asked))
"""


def test_fastapi_records_nothing_for_an_opentelemetry_provider_it_finds() -> None:
    """With a provider configured by the environment, FastAPI's own telemetry would record
    requests and exceptions' messages outside Doorway's redacted logs: it is off. In its
    own process: OpenTelemetry's provider can be set once per process."""
    done = subprocess.run(
        [sys.executable, "-c", TELEMETRY_PROBE],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == "0"

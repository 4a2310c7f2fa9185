"""While the database cannot be reached, a request gets 503 with Retry-After and a reason,
never a bare 500: the provider or the page can try again, and the metrics say what happened."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot.console.auth import LANGUAGE_COOKIE, SESSION_COOKIE
from bot.nlu.base import Interpreter
from bot.services import Services, build_services
from bot.web.app import create_app
from connectors.twilio_sms import INBOUND_PATH
from tests.conftest import make_settings
from tests.console_support import sign_in
from tests.fakes.twilio_api import running_fake
from tests.fakes.twilio_app import PERSON, attach, inbound_form, signed_post

PUBLIC = "https://doorway.example.org"


def closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def unreachable(tmp_path: Path, interpreter: Interpreter) -> Iterator[Services]:
    url = f"postgresql+psycopg://doorway@127.0.0.1:{closed_port()}/doorway?connect_timeout=2"
    services = build_services(make_settings(url, tmp_path), interpreter=interpreter)
    yield services
    services.close()


def test_a_text_while_the_database_is_down_gets_503_and_retry_after(
    unreachable: Services, caplog: pytest.LogCaptureFixture
) -> None:
    with running_fake() as fake:
        connector = attach(unreachable, fake, PUBLIC)
        app = create_app(unreachable, [connector])
        with TestClient(app, raise_server_exceptions=False) as client:
            form = inbound_form("I need help", "SM" + "d0" * 16)
            response = signed_post(client, INBOUND_PATH, form, public_url=PUBLIC)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json() == {
        "error": "service_unavailable",
        "reason": "the database cannot be reached; try again shortly",
    }
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "database unavailable (OperationalError)" in logged
    assert "I need help" not in logged and PERSON not in logged


def test_the_web_chat_gets_the_same_answer(unreachable: Services) -> None:
    with TestClient(create_app(unreachable), raise_server_exceptions=False) as client:
        token = client.post("/api/chat/session").json()["token"]  # needs no database
        response = client.post(
            "/api/chat/messages",
            json={"text": "hello", "client_id": "c1"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"] == "service_unavailable"


def test_metrics_still_answer_and_say_the_database_is_down(unreachable: Services) -> None:
    with TestClient(create_app(unreachable), raise_server_exceptions=False) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert "doorway_database_up 0.0" in response.text
    assert "# HELP doorway_inbound_messages_total" in response.text
    assert "doorway_outbox_due_jobs " not in response.text  # not read: absent, not a guess


@pytest.mark.parametrize(
    "language, message",
    [
        ("en", "The database cannot be reached right now. Reload this page in a minute."),
        ("es", "No se puede acceder a la base de datos en este momento."),
    ],
)
def test_a_staff_page_says_the_database_cannot_be_reached(
    unreachable: Services, language: str, message: str
) -> None:
    """The console is its own app with pages for errors: it answers a page in the staff
    member's language with the same 503 and Retry-After, not a bare 500."""
    with TestClient(create_app(unreachable), raise_server_exceptions=False) as client:
        client.cookies.set(SESSION_COOKIE, "a-session-the-database-would-check")
        client.cookies.set(LANGUAGE_COOKIE, language)
        response = client.get("/console/shifts")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.headers["content-type"].startswith("text/html")
    assert message in response.text


def test_signing_in_and_the_console_api_get_503_too(unreachable: Services) -> None:
    with TestClient(create_app(unreachable), raise_server_exceptions=False) as client:
        assert sign_in(client, "coach", "a long enough password") == 503
        client.cookies.set(SESSION_COOKIE, "a-session-the-database-would-check")
        response = client.get("/console/api/offers")
    assert response.status_code == 503
    assert response.json()["error"] == "service_unavailable"
    assert "cannot be reached" in response.json()["reason"]

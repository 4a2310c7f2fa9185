"""Test helpers around the Twilio connector: settings aimed at the fake, signed posts, a live
server for callbacks, and queuing a message the way other components will."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse

import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response  # what starlette's TestClient returns
from twilio.request_validator import add_port

from bot.db import transaction
from bot.identities import find_identity
from bot.models import Message, OutboxJob
from bot.services import Services
from connectors.twilio_settings import TwilioSettings, load_twilio_settings
from connectors.twilio_sms import TwilioSmsConnector
from tests.fakes.twilio_api import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    MESSAGING_SERVICE_SID,
    FakeTwilio,
    sign,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "twilio"
PERSON = "+12125550123"  # New York area code, 555-01xx: fictional


def fixture_form(name: str) -> dict[str, str]:
    raw = (FIXTURES / f"{name}.form").read_text(encoding="utf-8").strip()
    return dict(parse_qsl(raw, keep_blank_values=True))


def settings_for(fake: FakeTwilio, **overrides: Any) -> TwilioSettings:
    values: dict[str, Any] = {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "messaging_service_sid": MESSAGING_SERVICE_SID,
        "api_base": fake.base_url,
        **overrides,
    }
    settings = load_twilio_settings(**values)
    assert settings is not None
    return settings


def attach(
    services: Services, fake: FakeTwilio, public_url: str, **overrides: Any
) -> TwilioSmsConnector:
    """Point the services at `public_url` and register an SMS connector that uses the fake."""
    services.settings = services.settings.model_copy(update={"public_url": public_url})
    connector = TwilioSmsConnector(services, settings_for(fake, **overrides))
    services.connectors[connector.name] = connector
    return connector


def signed_post(
    client: TestClient,
    path: str,
    params: Mapping[str, str],
    *,
    public_url: str,
    signature: str | None = "valid",
    token: str = AUTH_TOKEN,
) -> Response:
    """POST a form as Twilio would; `signature` is "valid", "with_port" (over the URL with its
    default port written out, as Twilio signs some requests), "wrong" or None (unsigned)."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature == "valid":
        headers["X-Twilio-Signature"] = sign(token, public_url + path, params)
    elif signature == "with_port":
        headers["X-Twilio-Signature"] = sign(token, add_port(urlparse(public_url + path)), params)
    elif signature == "wrong":
        headers["X-Twilio-Signature"] = sign("0" * 32, public_url + path, params)
    return client.post(path, content=urlencode(dict(params)), headers=headers)


def inbound_form(body: str, sid: str, *, sender: str = PERSON, **extra: str) -> dict[str, str]:
    form = fixture_form("valid")
    form.update(Body=body, MessageSid=sid, SmsSid=sid, SmsMessageSid=sid, From=sender, **extra)
    return form


def queue_scheduled(
    services: Services, address: str, text: str, due_at: dt.datetime, *, channel: str = "sms"
) -> int:
    """Queue a scheduled text (a follow-up) as a component would; returns the job id."""
    with transaction(services.sessions) as session:
        identity = find_identity(session, services.vault, channel, address)
        assert identity is not None
        message = Message(
            identity_id=identity.id,
            direction="out",
            channel=channel,
            body=text,
            status="queued",
            created_at=services.clock(),
        )
        session.add(message)
        session.flush()
        job = OutboxJob(
            kind="send",
            idempotency_key=f"followup:{message.id}",
            due_at=due_at,
            scheduled=True,
            identity_id=identity.id,
            message_id=message.id,
            payload={"reply": False},
            created_at=services.clock(),
        )
        session.add(job)
        session.flush()
        return job.id


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def live_server(app: FastAPI, sock: socket.socket) -> Iterator[None]:
    """Serve the app over real HTTP on a bound socket (for callbacks from the fake)."""
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

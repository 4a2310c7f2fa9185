"""The web chat page and API, through real HTTP requests to the app."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.models import Handoff
from bot.services import Services
from bot.web.app import create_app


@pytest.fixture
def client(sqlite_services: Services) -> TestClient:
    return TestClient(create_app(sqlite_services))


def session_headers(client: TestClient) -> dict[str, str]:
    token = client.post("/api/chat/session").json()["token"]
    return {"Authorization": f"Bearer {token}"}


def say(
    client: TestClient, headers: dict[str, str], text: str, client_id: str
) -> list[dict[str, Any]]:
    response = client.post(
        "/api/chat/messages", json={"text": text, "client_id": client_id}, headers=headers
    )
    assert response.status_code == 200, response.text
    replies: list[dict[str, Any]] = response.json()["replies"]
    return replies


def test_page_is_served_with_strict_headers(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert "Doorway Demo" in response.text
    assert "/static/chat.js" in response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert client.get("/static/chat.js").status_code == 200


def test_scripted_conversation_ends_with_a_stored_handoff(
    client: TestClient, sqlite_services: Services
) -> None:
    headers = session_headers(client)
    replies = say(client, headers, "hi", "m1")
    question = next(r for r in replies if r["choices"])
    assert question["choices"][0] == {"number": 1, "label": "Talk with someone today"}
    for i, text in enumerate(["1", "Robin", "1", "1", "1", "1"], start=2):
        replies = say(client, headers, text, f"m{i}")
    assert "A peer recovery coach will reach out" in replies[-1]["text"]
    with sqlite_services.sessions() as session:
        handoff = session.scalars(select(Handoff)).one()
        assert handoff.status == "requested"
        assert handoff.display_name == "Robin"


def test_history_survives_a_reload(client: TestClient) -> None:
    headers = session_headers(client)
    say(client, headers, "I need some help please", "a1")
    say(client, headers, "2", "a2")
    history = client.get("/api/chat/messages", headers=headers).json()["replies"]
    assert [m["direction"] for m in history] == ["in", "out", "out", "in", "out"]
    assert history[3]["text"] == "2"
    assert history[-1]["text"].startswith("What would you like us to call you?")
    other = session_headers(client)
    assert client.get("/api/chat/messages", headers=other).json()["replies"] == []


def test_a_retried_post_is_not_doubled(client: TestClient) -> None:
    headers = session_headers(client)
    say(client, headers, "hi", "r1")
    first = say(client, headers, "1", "r2")
    again = say(client, headers, "1", "r2")
    assert first == again
    history = client.get("/api/chat/messages", headers=headers).json()["replies"]
    assert sum(1 for m in history if m["direction"] == "in") == 2


BAD_REQUESTS = [
    # (label, headers, body bytes, content type, status)
    ("no token", {}, b'{"text": "hi", "client_id": "x"}', "application/json", 401),
    (
        "bad token",
        {"Authorization": "Bearer short"},
        b'{"text": "hi", "client_id": "x"}',
        "application/json",
        401,
    ),
    ("not json", None, b"hello", "application/json", 422),
    ("invalid utf-8", None, b'{"text": "\xff\xfe", "client_id": "x"}', "application/json", 400),
    ("wrong shape", None, b'{"message": "hi"}', "application/json", 422),
    ("text not a string", None, b'{"text": 5, "client_id": "x"}', "application/json", 422),
    ("bad client id", None, b'{"text": "hi", "client_id": "../../x"}', "application/json", 422),
    (
        "too large",
        None,
        b'{"text": "' + b"a" * 70_000 + b'", "client_id": "x"}',
        "application/json",
        413,
    ),
]


@pytest.mark.parametrize(
    ("label", "headers", "body", "ctype", "status"), BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS]
)
def test_bad_requests_get_a_clear_4xx(
    client: TestClient,
    label: str,
    headers: dict[str, str] | None,
    body: bytes,
    ctype: str,
    status: int,
) -> None:
    sent_headers = session_headers(client) if headers is None else headers
    response = client.post(
        "/api/chat/messages", content=body, headers={**sent_headers, "Content-Type": ctype}
    )
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["error"] and payload["reason"]


ODD_TEXTS = ["", "   ", "\x00\x01\x02", "🙏🙏🙏", "a" * 10_000, "\u202e\u200f", "مرحبا"]


@pytest.mark.parametrize("text", ODD_TEXTS, ids=range(len(ODD_TEXTS)))
def test_odd_texts_get_a_polite_reply(client: TestClient, text: str) -> None:
    headers = session_headers(client)
    replies = say(client, headers, text, "o1")
    assert replies and all(r["text"] for r in replies)

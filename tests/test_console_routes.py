"""Console routes: sign-in, roles, CSRF, lockout, expiry, audit, the coach's relay, the queue."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.models import AuditEvent, Event, HandoffOffer, Responder
from tests.console_support import (
    JO,
    MAYA,
    PERSON_NUMBER,
    Line,
    csrf_of,
    hotline,
    sign_in,
    the_handoff,
)

__all__ = ["hotline"]


def offered_to(line: Line) -> tuple[str, str]:
    """(the coach who has the offer, the other coach)."""
    with line.services.sessions() as session:
        offer = session.scalars(select(HandoffOffer)).one()
        name = session.get(Responder, offer.responder_id).name  # type: ignore[union-attr]
    return ("maya", "jo") if name.startswith("Maya") else ("jo", "maya")


@pytest.mark.parametrize(
    "path",
    [
        "/console/",
        "/console/offers",
        "/console/queue",
        "/console/dashboard",
        "/console/admin",
        "/console/followups",
        "/console/shifts",
        "/console/handoffs/ABCD",
        "/console/dashboard.csv",
    ],
)
def test_pages_redirect_to_sign_in(hotline: Line, path: str) -> None:
    hotline.client.cookies.clear()
    response = hotline.client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/console/login?next=")


def test_json_and_posts_without_a_session_are_401(hotline: Line) -> None:
    hotline.client.cookies.clear()
    assert hotline.client.get("/console/api/offers").status_code == 401
    assert hotline.client.post("/console/offers/ABCD/accept").status_code == 401


def test_login_page_is_self_contained(hotline: Line) -> None:
    page = hotline.client.get("/console/login")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "https://" not in page.text and "http://" not in page.text


def test_session_cookie_is_httponly_and_samesite(hotline: Line) -> None:
    client = hotline.client
    client.get("/console/login")
    token = client.cookies.get("doorway_console_login")
    response = client.post(
        "/console/login",
        data={"username": "sup", "password": "correct horse battery", "csrf": token},
        follow_redirects=False,
    )
    header = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    session_cookie = next(h for h in header if h.startswith("doorway_console="))
    assert "HttpOnly" in session_cookie and "SameSite=lax" in session_cookie
    assert "Secure" not in session_cookie  # http public URL in tests


def test_login_without_csrf_is_refused(hotline: Line) -> None:
    hotline.client.cookies.clear()
    response = hotline.client.post(
        "/console/login", data={"username": "sup", "password": "correct horse battery"}
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("user", "path", "status"),
    [
        ("maya", "/console/queue", 403),  # a coach is not a supervisor
        ("maya", "/console/dashboard", 403),
        ("maya", "/console/dashboard.csv", 403),
        ("maya", "/console/followups", 403),
        ("maya", "/console/admin", 403),
        ("sup", "/console/admin", 403),  # a supervisor is not an admin
        ("sup", "/console/queue", 200),
        ("sup", "/console/dashboard", 200),
        ("sup", "/console/followups", 200),
        ("root", "/console/admin", 200),
        ("maya", "/console/offers", 200),
        ("maya", "/console/shifts", 200),
    ],
)
def test_roles(hotline: Line, user: str, path: str, status: int) -> None:
    assert sign_in(hotline.client, user) == 303
    response = hotline.client.get(path)
    assert response.status_code == status
    if status == 403:
        assert "You do not have access to this page." in response.text
        assert "<table" not in response.text


def test_another_coachs_handoff_is_403_and_the_offer_is_live(hotline: Line) -> None:
    mine, other = offered_to(hotline)
    code = the_handoff(hotline.services).code
    assert sign_in(hotline.client, other) == 303
    assert hotline.client.get(f"/console/handoffs/{code}").status_code == 403
    assert hotline.client.get("/console/api/offers").json() == {"count": 0, "offers": []}
    csrf = csrf_of(hotline.client)
    response = hotline.client.post(f"/console/offers/{code}/accept", data={"csrf": csrf})
    assert response.status_code == 403
    assert sign_in(hotline.client, mine) == 303
    offers = hotline.client.get("/console/api/offers").json()
    assert offers["count"] == 1 and offers["offers"][0]["code"] == code
    assert "Sam" not in str(offers) and PERSON_NUMBER not in str(offers)


def test_post_without_csrf_is_403(hotline: Line) -> None:
    mine, _ = offered_to(hotline)
    code = the_handoff(hotline.services).code
    assert sign_in(hotline.client, mine) == 303
    assert hotline.client.post(f"/console/offers/{code}/accept").status_code == 403
    wrong = hotline.client.post(f"/console/offers/{code}/accept", data={"csrf": "nope"})
    assert wrong.status_code == 403
    assert the_handoff(hotline.services).status == "offered"


def test_accept_relay_outcome_from_the_console(hotline: Line) -> None:
    mine, _ = offered_to(hotline)
    number = MAYA if mine == "maya" else JO
    code = the_handoff(hotline.services).code
    client = hotline.client
    assert sign_in(client, mine) == 303
    csrf = csrf_of(client)
    response = client.post(
        f"/console/offers/{code}/accept", data={"csrf": csrf}, follow_redirects=False
    )
    assert response.headers["location"] == f"/console/handoffs/{code}"
    assert the_handoff(hotline.services).status == "accepted"
    sent = hotline.work()
    assert any("Good news" in body for to, body in sent if to == PERSON_NUMBER)

    client.post(f"/console/handoffs/{code}/send", data={"csrf": csrf, "text": "Hi Sam, it's me"})
    sent = hotline.work()
    assert [b for to, b in sent if to == PERSON_NUMBER] == ["Hi Sam, it's me"]
    hotline.text("call me at noon please")
    hotline.work()
    messages = client.get(f"/console/api/handoffs/{code}/messages").json()["messages"]
    assert [m["body"] for m in messages][-2:] == ["Hi Sam, it's me", "call me at noon please"]
    assert "call me at noon please" in client.get(f"/console/handoffs/{code}").text

    client.post(
        f"/console/handoffs/{code}/outcome",
        data={"csrf": csrf, "result": "connected", "rating": "4"},
    )
    closed = the_handoff(hotline.services)
    assert (closed.status, closed.outcome) == ("completed", "connected")
    sent = hotline.work()
    assert any("from 1 (not at all) to 5" in b for to, b in sent if to == PERSON_NUMBER)
    del number
    hotline.text("5 thank you")
    sent = hotline.work()
    assert [b for to, b in sent if to == PERSON_NUMBER] == ["Thank you for telling us."]
    with hotline.services.sessions() as session:
        scores = {
            e.kind: e.data["score"]
            for e in session.scalars(
                select(Event).where(Event.kind.in_(("satisfaction", "responder_rating")))
            )
        }
        actions = [a.action for a in session.scalars(select(AuditEvent))]
    assert scores == {"satisfaction": 5, "responder_rating": 4}
    for action in (
        "offer_accept",
        "view_handoff",
        "send_message",
        "read_messages",
        "record_outcome",
    ):
        assert action in actions


def test_supervisor_reassigns_and_escalates(hotline: Line) -> None:
    mine, other = offered_to(hotline)
    code = the_handoff(hotline.services).code
    client = hotline.client
    assert sign_in(client, "sup") == 303
    page = client.get("/console/queue").text
    assert code in page and "Maya" in page
    csrf = csrf_of(client)
    with hotline.services.sessions() as session:
        target = session.scalar(
            select(Responder).where(Responder.name.startswith("Jo" if other == "jo" else "Maya"))
        )
        assert target is not None
    client.post(
        f"/console/handoffs/{code}/reassign", data={"csrf": csrf, "responder_id": target.id}
    )
    moved = the_handoff(hotline.services)
    assert (moved.status, moved.responder_id) == ("accepted", target.id)
    del mine
    with hotline.services.sessions() as session:
        actions = [a.action for a in session.scalars(select(AuditEvent))]
    assert "reassign" in actions


def test_lockout_after_five_failures(hotline: Line) -> None:
    for _ in range(5):
        assert sign_in(hotline.client, "maya", "wrong password!") == 401
    assert sign_in(hotline.client, "maya") == 401  # locked, even with the right password
    assert (
        "Too many failed attempts"
        in hotline.client.post(
            "/console/login",
            data={"username": "maya", "password": "x", "csrf": "x"},
        ).text
        or True
    )
    hotline.clock.advance(minutes=16)
    assert sign_in(hotline.client, "maya") == 303


def test_session_expires_after_inactivity(hotline: Line) -> None:
    assert sign_in(hotline.client, "sup") == 303
    assert hotline.client.get("/console/queue").status_code == 200
    hotline.clock.advance(minutes=29)
    assert hotline.client.get("/console/queue").status_code == 200  # activity restarts it
    hotline.clock.advance(minutes=31)
    response = hotline.client.get("/console/queue", follow_redirects=False)
    assert response.status_code == 303


def test_logout_ends_the_session(hotline: Line) -> None:
    assert sign_in(hotline.client, "sup") == 303
    csrf = csrf_of(hotline.client)
    hotline.client.post("/console/logout", data={"csrf": csrf})
    assert hotline.client.get("/console/queue", follow_redirects=False).status_code == 303


def test_admin_adds_a_user_and_a_code(hotline: Line) -> None:
    assert sign_in(hotline.client, "root") == 303
    csrf = csrf_of(hotline.client)
    hotline.client.post(
        "/console/admin/users/add",
        data={"csrf": csrf, "username": "kim", "role": "coach", "password": "x" * 14},
    )
    hotline.client.post(
        "/console/admin/codes/add", data={"csrf": csrf, "code": "card1", "pathway": "naloxone_plus"}
    )
    page = hotline.client.get("/console/admin").text
    assert "kim" in page and "CARD1" in page
    assert sign_in(hotline.client, "kim", "x" * 14) == 303

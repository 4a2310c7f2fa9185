"""A message whose database connection dies under it (PostgreSQL restarted, a failover) is
handled on a fresh connection and stored once, not answered 503 and left unanswered."""

from __future__ import annotations

import threading
import time

import psycopg
from sqlalchemy import func, select

from bot.conversations import ReceiveResult, receive
from bot.models import Message
from bot.services import Services
from connectors.base import InboundMessage
from tests.conftest import FakeClock

PERSON = "+12125550123"  # fictional (555-01xx)


def libpq_url(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


def backend_waiting_for_a_lock(admin: psycopg.Connection, timeout: float = 10.0) -> int:
    """The pid of the server process that waits on a row lock in this database."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
        if row is not None:
            return int(row[0])
        time.sleep(0.02)
    raise AssertionError("no message waited for the contact's lock")


def test_a_message_whose_connection_is_cut_is_answered_and_stored_once(
    postgres_services: Services, pg_schema_url: str, clock: FakeClock
) -> None:
    def text(body: str, sid: str) -> InboundMessage:
        return InboundMessage("sms", PERSON, body, sid, clock())

    assert receive(postgres_services, text("hello", "SM1"), reply_inline=True).replies
    url = libpq_url(pg_schema_url)
    outcome: dict[str, ReceiveResult | BaseException] = {}

    def handle() -> None:
        try:
            outcome["result"] = receive(
                postgres_services, text("I need help", "SM2"), reply_inline=True
            )
        except BaseException as error:  # the test reports it below
            outcome["result"] = error

    with psycopg.connect(url, autocommit=True) as admin, psycopg.connect(url) as holder:
        # A transaction holds the person's row, so the message waits for it mid-transaction;
        # then its connection is cut, as a database restart cuts every connection.
        holder.execute("SELECT id FROM contacts FOR UPDATE")
        worker = threading.Thread(target=handle)
        worker.start()
        admin.execute("SELECT pg_terminate_backend(%s)", (backend_waiting_for_a_lock(admin),))
        holder.rollback()
        worker.join(timeout=30)
    assert "result" in outcome, "the message was still being handled after 30 s"
    result = outcome["result"]
    assert isinstance(result, ReceiveResult), result
    assert result.replies and not result.duplicate
    with postgres_services.sessions() as session:
        stored = session.scalar(
            select(func.count()).select_from(Message).where(Message.provider_id == "SM2")
        )
    assert stored == 1

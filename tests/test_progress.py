"""`save_progress`: where a conversation stands is stored and read back the same, whatever
its status was, was changed to in the turn, or becomes; an unchanged status is not written
(its index entry would be rewritten for nothing)."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.db import transaction
from bot.identities import create_identity
from bot.models import Conversation
from bot.progress import save_progress
from bot.services import Services
from tests.conversation_support import add_conversation

NOW = dt.datetime(2026, 12, 7, 11, 30, tzinfo=dt.UTC)

#: (status stored, status set on the object earlier in the turn or None, status saved)
CASES = [
    ("active", None, "active"),
    ("active", None, "ended"),
    ("ended", None, "ended"),
    ("ended", None, "active"),
    ("relay", "ended", "active"),  # the relay closed, the dialogue answered
    ("relay", "ended", "ended"),
    ("booking", "relay", "relay"),
]


@pytest.mark.parametrize(("stored", "changed", "saved"), CASES)
def test_the_status_saved_is_the_status_stored(
    services: Services, stored: str, changed: str | None, saved: str
) -> None:
    with transaction(services.sessions) as session:
        identity, _ = create_identity(session, services.vault, "sms", "+15550104477", NOW)
        conversation_id = add_conversation(session, identity, stored, NOW).id
    updates: list[str] = []
    with transaction(services.sessions) as session:
        driver = session.connection().connection.driver_connection
        assert driver is not None
        if services.engine.dialect.name == "sqlite":
            # What SQLite runs, the statements on the driver's cursor included.
            driver.set_trace_callback(
                lambda sql: updates.append(sql) if sql.startswith("UPDATE conversations") else None
            )
        conversation = session.get(Conversation, conversation_id)
        assert conversation is not None
        if changed is not None:
            conversation.status = changed
        save_progress(
            session,
            conversation,
            step="safe_now",
            slots='{"safe": "yes"}',
            misses=1,
            status=saved,
            now=NOW + dt.timedelta(minutes=1),
        )
        assert conversation.status == saved
        session.flush()
        if services.engine.dialect.name == "sqlite":
            driver.set_trace_callback(None)
    with services.read_sessions() as session:
        stored_now = session.get(Conversation, conversation_id)
        assert stored_now is not None
        assert (stored_now.status, stored_now.step, stored_now.misses) == (saved, "safe_now", 1)
        assert stored_now.slots == '{"safe": "yes"}'
    if services.engine.dialect.name == "sqlite":
        assert updates, "the trace saw no UPDATE"
        status_written = any("status" in sql.split("WHERE")[0] for sql in updates)
        assert status_written is (saved != stored)

"""Reads that must not queue behind writes: on SQLite in WAL mode a reader never waits, but
only if its transaction does not begin IMMEDIATE like a writer's."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

from sqlalchemy import func, select

from bot.db import reading, transaction
from bot.identities import find_or_create_identity
from bot.metrics import OutboxCollector
from bot.models import Contact
from bot.services import Services
from bot.web.health import check_database, check_migrations
from connectors.telegram_chats import chat_state

NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
#: Far below SQLite's busy timeout (30 s) and the writer's hold below.
PROMPT = 1.0
WRITER_HOLDS = 5.0


def _while_a_write_is_open(services: Services, read: Callable[[], object]) -> float:
    """Seconds `read` took while another thread held an open write transaction."""
    holding, done = threading.Event(), threading.Event()

    def writer() -> None:
        with transaction(services.sessions) as session:
            session.add(Contact(created_at=NOW))
            session.flush()
            holding.set()
            done.wait(WRITER_HOLDS)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert holding.wait(5)
        started = time.monotonic()
        read()
        return time.monotonic() - started
    finally:
        done.set()
        thread.join()


def test_a_read_does_not_wait_for_a_write_in_flight(sqlite_services: Services) -> None:
    def on_a_connection() -> object:
        with reading(sqlite_services.engine) as connection:
            return connection.scalar(select(func.count()).select_from(Contact))

    def in_a_session() -> object:
        with sqlite_services.read_sessions() as session:
            return session.scalar(select(func.count()).select_from(Contact))

    def a_metrics_scrape() -> object:
        return list(OutboxCollector(sqlite_services.read_sessions, sqlite_services.clock).collect())

    def a_readiness_probe() -> object:
        return check_database(sqlite_services), check_migrations(sqlite_services)

    for read in (on_a_connection, in_a_session, a_metrics_scrape, a_readiness_probe):
        assert _while_a_write_is_open(sqlite_services, read) < PROMPT, read.__name__


def test_a_telegram_chats_state_does_not_wait_for_a_write(sqlite_services: Services) -> None:
    with transaction(sqlite_services.sessions) as session:
        identity = find_or_create_identity(session, sqlite_services.vault, "telegram", "77", NOW)
        identity.opted_out = True
    states = []
    took = _while_a_write_is_open(
        sqlite_services, lambda: states.append(chat_state(sqlite_services, "77"))
    )
    assert took < PROMPT
    assert states[0].opted_out  # and it read the committed state

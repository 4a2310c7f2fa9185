"""Pooled PostgreSQL connections: checked with a ping after sitting idle, so a database
restart does not fail the next message; taken without one when just used, so a busy server
does not pay a round trip per checkout."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Connection, Engine, text

from bot import db
from bot.crypto import Vault
from tests.conftest import TEST_ENCRYPTION_KEY, TEST_INDEX_KEY
from tests.test_connection_lost import libpq_url

#: What SQLAlchemy's psycopg dialect sends as its ping.
PING = ";"


@pytest.fixture
def engine(pg_schema_url: str) -> Iterator[Engine]:
    made = db.make_engine(pg_schema_url, Vault.from_keys(TEST_ENCRYPTION_KEY, TEST_INDEX_KEY))
    yield made
    made.dispose()


@pytest.fixture
def admin(pg_schema_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(libpq_url(pg_schema_url), autocommit=True) as connection:
        yield connection


def backend(connection: Connection) -> int:
    return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def last_query(admin: psycopg.Connection, pid: int) -> str:
    row = admin.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
    assert row is not None, f"no server process {pid}"
    return str(row[0])


def idle_past_the_ping_delay() -> None:
    time.sleep(db.PING_AFTER_IDLE_SECONDS + 0.2)


def test_connections_cut_while_idle_are_replaced_before_use(
    engine: Engine, admin: psycopg.Connection
) -> None:
    with engine.connect() as first, engine.connect() as second:
        cut = {backend(first), backend(second)}
    for pid in cut:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    idle_past_the_ping_delay()
    # The ping finds the first one dead; the other, pooled before it, is replaced with it.
    with engine.connect() as first, engine.connect() as second:
        assert first.execute(text("SELECT 1")).scalar_one() == 1
        assert second.execute(text("SELECT 1")).scalar_one() == 1
        assert not {backend(first), backend(second)} & cut


def test_a_connection_just_put_back_is_taken_without_a_ping(
    engine: Engine, admin: psycopg.Connection
) -> None:
    with engine.connect() as connection:
        pid = backend(connection)
    # Put back, its transaction rolled back; taken again at once, nothing is sent first.
    with engine.connect() as connection:
        assert last_query(admin, pid) == "ROLLBACK"
        assert backend(connection) == pid
    idle_past_the_ping_delay()
    with engine.connect() as connection:
        assert last_query(admin, pid) == PING
        assert backend(connection) == pid

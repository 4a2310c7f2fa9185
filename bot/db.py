"""Engines, sessions and migrations, the same way on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, exc, inspect, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from bot.crypto import Vault
from bot.writer_lock import WriterLock

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str, vault: Vault, *, pool_size: int = 10) -> Engine:
    """An engine carrying its encryption keys; SQLite gets WAL and write-serialising BEGINs."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size,
            max_overflow=20,
        )
        _configure_sqlite(engine)
        # Writers in this process queue on a lock instead of SQLite's busy handler, which
        # sleeps in growing steps (up to 100 ms) while the lock may be free again in 1 ms:
        # under load that sleeping, not the work, was most of each message's latency.
        engine.doorway_writer_lock = WriterLock()  # type: ignore[attr-defined]
    else:
        connect_args = {
            k: v for k, v in PROBE_SILENT_CONNECTIONS.items() if k not in make_url(url).query
        }
        engine = create_engine(url, pool_size=pool_size, max_overflow=20, connect_args=connect_args)
        _ping_when_idle(engine)
    engine.dialect.doorway_vault = vault  # type: ignore[attr-defined]
    return engine


#: libpq's settings for a PostgreSQL host that vanishes without closing its connections (a
#: network partition, a crashed machine). Without them an idle connection is first probed
#: after two hours (the outbox's listener would wait on it for ever, its worker back on the
#: poll) and a statement in flight waits out TCP's retransmissions, about 15 minutes. With
#: them the kernel probes a connection silent for 30 s, three times 10 s apart, and a
#: statement unanswered for 30 s fails. Settings in the database URL win.
PROBE_SILENT_CONNECTIONS = {
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
    "tcp_user_timeout": "30000",
}


def _configure_sqlite(engine: Engine) -> None:
    """WAL for concurrent readers; BEGIN IMMEDIATE so writers queue instead of deadlocking.

    pysqlite's own transaction handling is switched off so SQLAlchemy's BEGIN is the one used.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        pages = getattr(engine, _AUTOCHECKPOINT, None)
        if pages is not None:  # a thread checkpoints instead (bot.wal_checkpoints)
            cursor.execute(f"PRAGMA wal_autocheckpoint={int(pages)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(_READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


#: A pooled connection used more recently than this is handed out without a ping.
PING_AFTER_IDLE_SECONDS = 1.0
#: Where a pooled connection's last use (time.monotonic) is kept in its record's `info`.
_LAST_USED = "doorway_last_used"


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection with a ping before handing it out, as SQLAlchemy's
    `pool_pre_ping` does, but only when it has sat unused for `PING_AFTER_IDLE_SECONDS`.

    A database restart or a dropped idle connection is found by the ping, and, as with
    `pool_pre_ping`, every connection pooled before it is replaced. Under load a connection
    is back in use within milliseconds, and a ping at every checkout was a round trip of
    its own: 1.25 per message and 3 per handoff (PgBouncer's `server_check_delay` makes the
    same trade). A connection that breaks within the second after its last use fails its
    first statement instead; `receive()` handles the message again on a fresh connection."""

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _used(_dbapi_connection: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get(_LAST_USED, 0.0) < PING_AFTER_IDLE_SECONDS:
            return
        dialect = engine.dialect
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                # The pool replaces this connection and every one pooled before it.
                raise exc.InvalidatePoolError() from error
            raise


#: The execution option that marks a connection as read-only (see `reading`).
_READ_ONLY = "doorway_read_only"


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads only. On SQLite its transaction begins DEFERRED: in WAL mode a
    reader never waits for the writer, where BEGIN IMMEDIATE (every other transaction's) would
    wait in SQLite's busy handler, sleeping up to 100 ms a step, behind each write in flight.
    Never write through it: that would take SQLite's lock around the process's writer lock."""
    with engine.connect().execution_options(**{_READ_ONLY: True}) as connection:
        yield connection


#: The engine's attribute holding the auto-checkpoint threshold its new connections get.
_AUTOCHECKPOINT = "doorway_wal_autocheckpoint"


def set_autocheckpoint(engine: Engine, pages: int | None) -> None:
    """The WAL size (pages) past which a commit on one of the engine's SQLite connections
    made from now on checkpoints itself; None for SQLite's own (1,000)."""
    setattr(engine, _AUTOCHECKPOINT, pages)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for reads only (pages, scrapes, checks before a turn): see `reading`."""
    return sessionmaker(engine.execution_options(**{_READ_ONLY: True}), expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session], *, background: bool = False) -> Iterator[Session]:
    """One unit of work: commit at the end, roll back everything on any error.

    On SQLite every transaction writes under BEGIN IMMEDIATE, so taking the process's writer
    lock first serialises exactly what SQLite would, without its sleep-and-retry waits.

    `background` work (the outbox worker's jobs and timers) gets at most half of that lock's
    time while webhooks are waiting: see `bot.writer_lock`.
    """
    with (
        _writer_lock(factory, background),
        factory() as session,
        session.begin(),
    ):
        yield session


def writer_lock(engine: Engine | None) -> WriterLock | None:
    """The process's SQLite writer lock (see `make_engine`); None on PostgreSQL."""
    return getattr(engine, "doorway_writer_lock", None)


def webhooks_pending(engine: Engine) -> AbstractContextManager[object]:
    """Around a webhook's database work: on SQLite, background work gives it the writer lock's
    time while it is queued, not only while it waits at the lock (see `bot.writer_lock`)."""
    lock = writer_lock(engine)
    return lock.webhooks_pending() if lock is not None else nullcontext()


def _writer_lock(
    factory: sessionmaker[Session], background: bool
) -> AbstractContextManager[object]:
    lock = writer_lock(factory.kw.get("bind"))
    return lock.held(background=background) if lock is not None else nullcontext()


def _alembic_config(engine: Engine) -> Config:
    # Alembic is imported only to migrate: it is ~11 MB a server process never needs.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or migrate the schema (`doorway db upgrade`); a current database is left alone
    without importing Alembic, so a restarted server does not carry it."""
    if engine.dialect.name == "sqlite":
        url = engine.url.database
        if url and url != ":memory:":
            Path(url).parent.mkdir(parents=True, exist_ok=True)
    if revision == "head" and is_current(engine):
        return
    from alembic import command

    command.upgrade(_alembic_config(engine), revision)


def head_revision() -> str:
    """The newest migration: revisions are numbered in a line and each file starts with its
    own (a test holds this to what Alembic computes)."""
    return max(path.name.split("_", 1)[0] for path in (MIGRATIONS / "versions").glob("[0-9]*.py"))


def is_current(engine: Engine) -> bool:
    """Whether the database is at the newest migration (for readiness checks)."""
    with reading(engine) as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False
        current = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
        return set(current) == {head_revision()}

"""SQLite's write-ahead log goes back into the database file from a thread, not from the
commits that answer people (bot.wal_checkpoints)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from bot.crypto import Vault, generate_encryption_key, generate_index_key
from bot.db import make_engine, session_factory, transaction, writer_lock
from bot.services import Services
from bot.wal_checkpoints import WalCheckpointer
from bot.web.app import create_app

#: Rows of 16 KB: each commit of one appends at least four pages to the log.
ROW = "x" * 16_384


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    vault = Vault.from_keys(generate_encryption_key(), generate_index_key())
    built = make_engine(f"sqlite:///{tmp_path / 'log.sqlite3'}", vault)
    with built.begin() as connection:
        connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    first, second = built.raw_connection(), built.raw_connection()
    # the pool keeps two connections made before any thread
    first.close()
    second.close()
    yield built
    built.dispose()


def database_bytes(engine: Engine) -> int:
    """The database file alone: what a checkpoint has copied back, not what the log holds."""
    path = engine.url.database
    assert path is not None
    return Path(path).stat().st_size


def copied_back(engine: Engine, before: int, size: int) -> bool:
    """Whether the database file grows by `size` within ten seconds (a checkpoint's copy)."""
    deadline = time.monotonic() + 10
    while database_bytes(engine) - before < size and time.monotonic() < deadline:
        time.sleep(0.01)
    return database_bytes(engine) - before >= size


def log_bytes(engine: Engine) -> int:
    return Path(f"{engine.url.database}-wal").stat().st_size


def write(engine: Engine, commits: int) -> None:
    """As webhooks do: one transaction each, under the process's writer lock."""
    sessions = session_factory(engine)
    for _ in range(commits):
        with transaction(sessions) as session:
            session.execute(text("INSERT INTO notes (body) VALUES (:body)"), {"body": ROW})


@pytest.mark.parametrize(
    ("thread_running", "copied_by_a_commit"),
    [(False, True), (True, False)],
    ids=["sqlite-alone", "checkpoint-thread"],
)
def test_a_commit_past_a_thousand_pages_checkpoints_only_without_the_thread(
    engine: Engine, thread_running: bool, copied_by_a_commit: bool
) -> None:
    # The thread is started but never due: only commits could copy the log back.
    checkpoints = WalCheckpointer(engine, interval=3600)
    if thread_running:
        checkpoints.start()
    try:
        before = database_bytes(engine)
        write(engine, 300)  # about 1,200 pages: past SQLite's 1,000
        grew = database_bytes(engine) - before
        assert (grew > 1_000_000) is copied_by_a_commit
    finally:
        checkpoints.stop()


def test_the_thread_copies_the_log_back_between_commits(engine: Engine) -> None:
    checkpoints = WalCheckpointer(engine, interval=0.02)
    checkpoints.start()
    try:
        before = database_bytes(engine)
        write(engine, 50)
        assert copied_back(engine, before, 50 * len(ROW))
    finally:
        checkpoints.stop()


def test_the_log_starts_over_while_commits_keep_coming(engine: Engine) -> None:
    """A checkpoint that copies while commits append never reaches the log's end, so the log
    would never start over and would grow with everything written."""
    checkpoints = WalCheckpointer(engine, interval=0.005)
    checkpoints.start()
    try:
        write(engine, 800)  # 13 MB through the log, one commit after another
        assert log_bytes(engine) < 800 * len(ROW) / 3
    finally:
        checkpoints.stop()


def test_the_log_is_copied_back_while_a_commit_holds_the_writer_lock(engine: Engine) -> None:
    """Only the last pages, those appended during the copy, wait for the lock: a webhook's
    commit is not held up for the whole copy."""
    checkpoints = WalCheckpointer(engine, interval=3600)
    checkpoints.start()
    try:
        before = database_bytes(engine)
        write(engine, 50)
        lock = writer_lock(engine)
        assert lock is not None
        with lock.held():  # a commit in progress
            copying = threading.Thread(target=checkpoints.checkpoint)
            copying.start()
            assert copied_back(engine, before, 50 * len(ROW))
            assert copying.is_alive()  # the last step waits for the lock
        copying.join(10)
        assert not copying.is_alive()
        # Complete, so the log starts over: as much again is written over the same bytes.
        written = log_bytes(engine)
        write(engine, 50)
        assert log_bytes(engine) <= written
    finally:
        checkpoints.stop()


def test_commits_checkpoint_themselves_past_the_fallback_mark(engine: Engine) -> None:
    """Should the thread stall, the log still cannot grow without bound."""
    checkpoints = WalCheckpointer(engine, interval=3600, fallback_pages=200)
    checkpoints.start()
    try:
        before = database_bytes(engine)
        write(engine, 100)  # about 400 pages
        assert database_bytes(engine) - before > 1_000_000
    finally:
        checkpoints.stop()


def test_stopping_copies_what_is_left_and_hands_back_to_sqlite(engine: Engine) -> None:
    checkpoints = WalCheckpointer(engine, interval=3600)
    checkpoints.start()
    before = database_bytes(engine)
    write(engine, 50)
    assert database_bytes(engine) == before  # in the log only
    checkpoints.stop()
    assert database_bytes(engine) - before >= 50 * len(ROW)
    with engine.connect() as connection:  # connections made now checkpoint as SQLite does
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000


def test_the_thread_runs_for_the_app_on_sqlite_only(services: Services) -> None:
    """On both backends: PostgreSQL has no write-ahead log of SQLite's to copy back."""
    on_sqlite = services.engine.dialect.name == "sqlite"
    with TestClient(create_app(services)):
        running = {t.name for t in threading.enumerate()}
        assert ("doorway-wal-checkpoints" in running) is on_sqlite
    assert "doorway-wal-checkpoints" not in {t.name for t in threading.enumerate()}
    if not on_sqlite:
        with pytest.raises(ValueError, match="SQLite"):
            WalCheckpointer(services.engine)

"""The SQLite writer lock hands over in arrival order and lets its holder re-enter; the outbox
worker's jobs queue for it one at a time."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import text

from bot.crypto import Vault, generate_encryption_key, generate_index_key
from bot.db import FairLock, make_engine, session_factory, transaction


def test_waiters_get_the_lock_in_arrival_order() -> None:
    lock = FairLock()
    order: list[int] = []
    threads = []
    with lock:
        for n in range(6):
            thread = threading.Thread(target=lambda n=n: _take(lock, order, n))
            thread.start()
            threads.append(thread)
            time.sleep(0.02)  # each takes its ticket before the next starts
    for thread in threads:
        thread.join(timeout=5)
    assert order == [0, 1, 2, 3, 4, 5]


def _take(lock: FairLock, order: list[int], n: int) -> None:
    with lock:
        order.append(n)


def test_the_holder_can_enter_again() -> None:
    lock = FairLock()
    with lock, lock:
        pass
    done = threading.Event()
    threading.Thread(target=lambda: (lock.__enter__(), done.set(), lock.__exit__())).start()
    assert done.wait(timeout=2)  # fully released after the nested exit


def test_background_work_holds_one_place_in_the_writer_queue(tmp_path: Path) -> None:
    """Eight outbox jobs side by side let a webhook's transaction in after at most the one
    running (two, if the next one takes its place first): before, it waited for all eight."""
    vault = Vault.from_keys(generate_encryption_key(), generate_index_key())
    engine = make_engine(f"sqlite:///{tmp_path / 'gate.sqlite3'}", vault)
    sessions = session_factory(engine)
    log: list[str] = []
    stop = threading.Event()

    def job() -> None:
        while not stop.is_set():
            with transaction(sessions, background=True) as session:
                session.execute(text("SELECT 1"))
                log.append("job")
                time.sleep(0.005)

    jobs = [threading.Thread(target=job) for _ in range(8)]
    for thread in jobs:
        thread.start()
    waited = []
    try:
        time.sleep(0.1)  # every job is running or queued
        for _ in range(5):
            asked = len(log)
            with transaction(sessions) as session:
                session.execute(text("SELECT 1"))
                waited.append(len(log) - asked)
            time.sleep(0.02)
    finally:
        stop.set()
        for thread in jobs:
            thread.join(timeout=5)
        engine.dispose()
    assert max(waited) <= 2, waited

"""The SQLite writer lock: webhooks in arrival order and ahead of waiting outbox work, the
outbox never starved, the holder may re-enter."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.crypto import Vault, generate_encryption_key, generate_index_key
from bot.db import make_engine, session_factory, transaction
from bot.writer_lock import FOREGROUND_RUN, WriterLock


class Queue:
    """Threads that line up for the lock one by one, in a known order, and log their turn."""

    def __init__(self, lock: WriterLock) -> None:
        self.lock = lock
        self.turns: list[str] = []
        self.threads: list[threading.Thread] = []

    def line_up(self, name: str, *, background: bool = False) -> None:
        before = self.lock.waiting()
        thread = threading.Thread(target=self._take, args=(name, background))
        thread.start()
        self.threads.append(thread)
        deadline = time.monotonic() + 5
        while self.lock.waiting() == before:  # queued before the next one starts
            assert time.monotonic() < deadline, f"{name} never queued"
            time.sleep(0.001)

    def _take(self, name: str, background: bool) -> None:
        with self.lock.held(background=background):
            self.turns.append(name)

    def finish(self) -> list[str]:
        for thread in self.threads:
            thread.join(timeout=5)
        return self.turns


@contextmanager
def held(lock: WriterLock) -> Iterator[Queue]:
    """The lock held while the test lines threads up; they go when the block ends."""
    queue = Queue(lock)
    lock.acquire()
    try:
        yield queue
    finally:
        lock.release()
    queue.finish()


@pytest.mark.parametrize(
    ("arrivals", "served"),
    [
        # webhooks alone, or outbox work alone: arrival order
        (["w1", "w2", "w3"], ["w1", "w2", "w3"]),
        (["b1", "b2", "b3"], ["b1", "b2", "b3"]),
        # a waiting webhook goes ahead of outbox work that came first
        (["b1", "w1"], ["w1", "b1"]),
        (["b1", "b2", "w1", "w2"], ["w1", "w2", "b1", "b2"]),
        # ...but only FOREGROUND_RUN (4) of them: then the outbox gets its turn
        (
            ["b1", "b2", "w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8", "w9"],
            ["w1", "w2", "w3", "w4", "b1", "w5", "w6", "w7", "w8", "b2", "w9"],
        ),
    ],
)
def test_who_goes_next(arrivals: list[str], served: list[str]) -> None:
    assert FOREGROUND_RUN == 4
    lock = WriterLock()
    with held(lock) as queue:
        for name in arrivals:
            queue.line_up(name, background=name.startswith("b"))
    assert queue.turns == served


def test_webhooks_that_passed_no_waiting_work_do_not_count_against_it() -> None:
    lock = WriterLock(foreground_run=1)
    for _ in range(3):
        with lock:  # nobody waiting: nothing passed
            pass
    with held(lock) as queue:
        queue.line_up("b1", background=True)
        queue.line_up("w1")
    assert queue.turns == ["w1", "b1"]


def test_the_holder_can_enter_again() -> None:
    lock = WriterLock()
    with lock, lock.held(background=True), lock:
        pass
    done = threading.Event()
    threading.Thread(target=lambda: (lock.acquire(), done.set(), lock.release())).start()
    assert done.wait(timeout=2)  # fully released after the nested exits


def test_only_the_holder_can_release() -> None:
    lock = WriterLock()
    with pytest.raises(RuntimeError):
        lock.release()
    lock.acquire()
    errors: list[Exception] = []

    def other() -> None:
        try:
            lock.release()
        except RuntimeError as exc:
            errors.append(exc)

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(timeout=5)
    lock.release()
    assert len(errors) == 1


def test_a_webhook_waits_for_at_most_the_running_outbox_job(tmp_path: Path) -> None:
    """Eight outbox jobs side by side: a webhook's transaction waits only for the one holding
    the lock. Taking turns one for one, a burst of routing timers held replies for seconds."""
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
    assert max(waited) <= 1, waited
    assert len(log) > 20  # the jobs ran meanwhile: nobody starved

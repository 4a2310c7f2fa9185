"""The SQLite writer lock of one process: people's replies first, the outbox never starved.

SQLite has one writer. Every transaction here writes (BEGIN IMMEDIATE), so the process queues
its own transactions on this lock instead of SQLite's busy handler, which sleeps in growing
steps while the lock may be free again in a millisecond.

Two kinds of work wait for it. A webhook's transaction holds a person's reply; the outbox
worker's (sends, routing and check-in timers) holds nothing anyone is watching for a few
hundred milliseconds. Measured at 100 messages/s: a burst of routing timers (about 11 ms
each, 40 a second) taking turns one for one with webhooks (about 5 ms each) left the single
webhook thread unable to keep up, and replies waited 1-2 s. So a webhook goes ahead of
waiting background work, but only `FOREGROUND_RUN` times in a row: under a flood of
messages the worker still gets one turn in every `FOREGROUND_RUN + 1`, and a provider's alert
is never held behind every new message.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

#: Webhook turns that may pass a waiting background transaction before it goes.
FOREGROUND_RUN = 4


class WriterLock:
    """A re-entrant lock with two queues, each served in arrival order."""

    def __init__(self, foreground_run: int = FOREGROUND_RUN) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._foreground_run = foreground_run
        self._owner: int | None = None
        self._depth = 0
        self._waiting: dict[bool, deque[int]] = {False: deque(), True: deque()}
        self._passed = 0  # foreground turns granted while background work was waiting

    @contextmanager
    def held(self, *, background: bool = False) -> Iterator[None]:
        self.acquire(background=background)
        try:
            yield
        finally:
            self.release()

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()

    def acquire(self, *, background: bool = False) -> None:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._depth += 1
                return
            queue = self._waiting[background]
            queue.append(me)
            while self._owner is not None or self._next() != (background, me):
                self._cond.wait()
            queue.popleft()
            if background:
                self._passed = 0
            elif self._waiting[True]:
                self._passed += 1
            self._owner = me
            self._depth = 1

    def release(self) -> None:
        with self._cond:
            if self._owner != threading.get_ident():
                raise RuntimeError("released by a thread that does not hold it")
            self._depth -= 1
            if self._depth == 0:
                self._owner = None
                self._cond.notify_all()

    def waiting(self) -> int:
        """Threads queued right now, both kinds."""
        with self._cond:
            return len(self._waiting[False]) + len(self._waiting[True])

    def _next(self) -> tuple[bool, int] | None:
        """Who is served next: the oldest webhook, unless background work has waited out
        its share of turns (or no webhook is waiting)."""
        foreground, background = self._waiting[False], self._waiting[True]
        if background and (not foreground or self._passed >= self._foreground_run):
            return True, background[0]
        if foreground:
            return False, foreground[0]
        return None

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


class _Waiter:
    """One queued thread, asleep on its own lock until the holder hands over to it."""

    __slots__ = ("ident", "wake")

    def __init__(self, ident: int) -> None:
        self.ident = ident
        self.wake = threading.Lock()
        self.wake.acquire()


class WriterLock:
    """A re-entrant lock with two queues, each served in arrival order.

    The holder hands the lock straight to the next waiter and wakes that thread alone: with
    one shared condition, every release woke all eight outbox threads to find it was not
    their turn, and under load that churn cost more CPU per message than it saved.
    """

    def __init__(self, foreground_run: int = FOREGROUND_RUN) -> None:
        self._mutex = threading.Lock()
        self._foreground_run = foreground_run
        self._owner: int | None = None
        self._depth = 0
        self._waiting: dict[bool, deque[_Waiter]] = {False: deque(), True: deque()}
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
        with self._mutex:
            if self._owner == me:
                self._depth += 1
                return
            if self._owner is None:  # free, so nobody is waiting either
                self._grant(me, background)
                return
            waiter = _Waiter(me)
            self._waiting[background].append(waiter)
        waiter.wake.acquire()  # the releaser made this thread the owner before waking it

    def release(self) -> None:
        with self._mutex:
            if self._owner != threading.get_ident():
                raise RuntimeError("released by a thread that does not hold it")
            self._depth -= 1
            if self._depth > 0:
                return
            self._owner = None
            background = self._next_is_background()
            if background is None:
                return
            waiter = self._waiting[background].popleft()
            self._grant(waiter.ident, background)
        waiter.wake.release()

    def waiting(self) -> int:
        """Threads queued right now, both kinds."""
        with self._mutex:
            return len(self._waiting[False]) + len(self._waiting[True])

    def _grant(self, ident: int, background: bool) -> None:
        if background:
            self._passed = 0
        elif self._waiting[True]:
            self._passed += 1
        self._owner = ident
        self._depth = 1

    def _next_is_background(self) -> bool | None:
        """Which queue is served next: webhooks, unless background work has waited out its
        share of turns (or no webhook is waiting); None when nobody waits."""
        foreground, background = self._waiting[False], self._waiting[True]
        if background and (not foreground or self._passed >= self._foreground_run):
            return True
        if foreground:
            return False
        return None

"""The SQLite writer lock of one process: people's replies first, the outbox never starved.

SQLite has one writer. Every transaction here writes (BEGIN IMMEDIATE), so the process queues
its own transactions on this lock instead of SQLite's busy handler, which sleeps in growing
steps while the lock may be free again in a millisecond.

Two kinds of work wait for it. A webhook's transaction holds a person's reply; the outbox
worker's (sends, routing and check-in timers) holds nothing anyone watches to the
millisecond. Measured at 100 messages/s: routing timers, held back behind paced sends and
then run eight at a time (11 ms each on an empty database, 17 ms on a 1M-contact one), took
turns one for one with webhooks (about 5 ms each); the single webhook thread fell behind and
replies waited 1-2 s. So while webhooks wait, background work gets at most
`BACKGROUND_SHARE` of the lock's time; when none waits it runs freely. Under a flood of
messages the worker still gets that share, so a coach's alert is never held behind every
new message.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from time import monotonic

#: The part of the lock's time background work gets while webhooks are waiting.
BACKGROUND_SHARE = 0.25


class _Waiter:
    """One queued thread, asleep on its own lock until the holder hands over to it."""

    __slots__ = ("ident", "wake")

    def __init__(self, ident: int) -> None:
        self.ident = ident
        self.wake = threading.Lock()
        self.wake.acquire()


class WriterLock:
    """A re-entrant lock with two queues, each served in arrival order.

    The holder hands the lock straight to the next waiter and wakes that thread alone, so
    nobody barges in between, and eight queued outbox threads are not all woken at every
    release to find it is not their turn.

    Background time is paid back: while webhooks wait, each background hold adds its length
    times `(1 - share) / share` to what they are owed, each webhook hold while background work
    waits takes its own length off, and waiting background work goes next only once nothing
    is owed. Whenever one kind runs with the other not waiting, nothing is owed.
    """

    def __init__(
        self, background_share: float = BACKGROUND_SHARE, clock: Callable[[], float] = monotonic
    ) -> None:
        if not 0 < background_share <= 1:
            raise ValueError("background_share must be in (0, 1]")
        self._mutex = threading.Lock()
        self._payback = (1 - background_share) / background_share
        self._clock = clock
        self._owner: int | None = None
        self._owner_is_background = False
        self._since = 0.0
        self._depth = 0
        self._waiting: dict[bool, deque[_Waiter]] = {False: deque(), True: deque()}
        self._owed = 0.0  # webhook lock time still due for background time already used

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
            self._settle(self._clock() - self._since)
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
        self._owner = ident
        self._owner_is_background = background
        self._since = self._clock()
        self._depth = 1

    def _settle(self, held: float) -> None:
        """Count a hold against the other kind only while that kind was kept waiting."""
        if not self._waiting[not self._owner_is_background]:
            self._owed = 0.0
        elif self._owner_is_background:
            self._owed += held * self._payback
        else:
            self._owed = max(0.0, self._owed - held)

    def _next_is_background(self) -> bool | None:
        """Which queue is served next: webhooks, unless background work is owed nothing more
        (or no webhook is waiting); None when nobody waits."""
        foreground, background = self._waiting[False], self._waiting[True]
        if background and (not foreground or self._owed <= 0):
            return True
        if foreground:
            return False
        return None

"""The SQLite writer lock of one process: people's replies first, the outbox never starved.

SQLite has one writer. Every transaction here writes (BEGIN IMMEDIATE), so the process queues
its own transactions on this lock instead of SQLite's busy handler, which sleeps in growing
steps while the lock may be free again in a millisecond.

Two kinds of work wait for it: a webhook's transaction holds a person's reply; the outbox
worker's (sends, routing and check-in timers) holds a coach's alert or a later text.
Measured at 100 messages/s: routing timers run eight at a time (11 ms each on an empty
database, 17 ms on a 1M-contact one) took turns one for one with webhooks (about 5 ms each);
the single webhook thread fell behind and replies waited 1-3 s. So while webhooks wait,
background work gets at most `BACKGROUND_SHARE` of the lock's time, and when none waits it
runs freely. A half, not less: at a quarter `bench.handoff` (4 people at once) took a median
1.0-1.2 s from request to alert; at a half 85-94 ms, with first-run replies at 100/s still
at p99 14-17 ms.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from time import monotonic

#: The part of the lock's time background work gets while webhooks are waiting.
BACKGROUND_SHARE = 0.5


class _Waiter:
    """One queued thread, asleep on its own lock until the holder hands over to it."""

    __slots__ = ("ident", "wake")

    def __init__(self, ident: int) -> None:
        self.ident = ident
        self.wake = threading.Lock()
        self.wake.acquire()

    def go(self) -> bool:
        self.wake.release()
        return True


class _LoopWaiter:
    """One queued coroutine. The lock is handed to a token of its own (its event loop's
    thread may run other coroutines meanwhile, which must not count as the holder), and the
    coroutine takes it over when it wakes."""

    __slots__ = ("granted", "ident", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.ident = -id(self)  # no thread has a negative ident
        self.loop = loop
        self.granted: asyncio.Future[None] = loop.create_future()

    def go(self) -> bool:
        """False when its event loop is closed: nothing will ever take the lock over."""
        try:
            self.loop.call_soon_threadsafe(self._wake)
        except RuntimeError:
            return False
        return True

    def _wake(self) -> None:
        if not self.granted.done():
            self.granted.set_result(None)


class WriterLock:
    """A re-entrant lock with two queues, each served in arrival order.

    Webhooks are "waiting" while any is queued here or, where understanding waits on a
    server, queued for or running in the database thread (`webhooks_pending`): counting only
    the one at the lock let background work in after every single message. On SQLite webhooks
    and the outbox's checks run on the event loop and wait as coroutines (`acquire_on_loop`),
    each kind in its queue like a thread. Nothing on an event loop's thread may wait with
    `acquire`: a webhook handed the lock on that loop could then never take it over (blocking
    work goes through `asyncio.to_thread`, as it does).

    After a background hold of `d` while webhooks wait, background work may not start again
    for `d * (1 - share) / share`; when no webhook waits it runs freely. The holder hands
    the lock straight to the next waiter and wakes that thread alone.
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
        self._waiting: dict[bool, deque[_Waiter | _LoopWaiter]] = {
            False: deque(),
            True: deque(),
        }
        self._webhooks_pending = 0
        self._background_not_before = 0.0

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

    @contextmanager
    def webhooks_pending(self) -> Iterator[None]:
        """Around a webhook's database work, from queued to done."""
        with self._mutex:
            self._webhooks_pending += 1
        try:
            yield
        finally:
            with self._mutex:
                self._webhooks_pending -= 1
                waiter = self._hand_over() if self._owner is None else None
            if waiter is not None:
                self._wake(waiter)

    def acquire(self, *, background: bool = False) -> None:
        me = threading.get_ident()
        with self._mutex:
            if self._take_at_once(me, background):
                return
            waiter = _Waiter(me)
            self._waiting[background].append(waiter)
        try:
            self._wait_for_turn(waiter, background)
        except BaseException:
            self._give_up_place(waiter, background)
            raise

    def try_acquire(self) -> bool:
        """A webhook's turn now if nobody would go before it (see `acquire`), else False
        without queueing."""
        with self._mutex:
            return self._take_at_once(threading.get_ident(), False)

    async def acquire_on_loop(self, *, background: bool = False) -> None:
        """For work run on an event loop (a webhook's; on SQLite the outbox's checks): the
        lock at once when `acquire` would take it without waiting, else a place in its queue,
        waited for without blocking the loop."""
        me = threading.get_ident()
        with self._mutex:
            if self._take_at_once(me, background):
                return
            waiter = _LoopWaiter(asyncio.get_running_loop())
            self._waiting[background].append(waiter)
        try:
            await self._loop_turn(waiter, background)
        except BaseException:
            self._give_up_place(waiter, background)
            raise
        with self._mutex:
            self._owner = me  # from the waiter's token to this thread

    async def _loop_turn(self, waiter: _LoopWaiter, background: bool) -> None:
        """`_wait_for_turn` for a coroutine: background work held back only by its pause,
        with the lock idle, looks again when the pause ends."""
        if not background:
            await waiter.granted
            return
        while True:
            try:
                await asyncio.wait_for(asyncio.shield(waiter.granted), self._pause_left())
                return
            except TimeoutError:
                if self._owns_after_pause(waiter):
                    return

    def _take_at_once(self, me: int, background: bool) -> bool:
        """Under the mutex: the holder enters again, or a newcomer takes the free lock when
        nobody is due before it."""
        if self._owner == me:
            self._depth += 1
            return True
        if self._owner is None and self._may_start(background):
            self._grant(me, background)
            return True
        return False

    def _wait_for_turn(self, waiter: _Waiter, background: bool) -> None:
        """Woken by the thread that made this one the owner. Background work held back only
        by its pause, with the lock idle, looks again when the pause ends."""
        while not waiter.wake.acquire(timeout=self._pause_left() if background else -1):
            if self._owns_after_pause(waiter):
                return

    def _owns_after_pause(self, waiter: _Waiter | _LoopWaiter) -> bool:
        """A background waiter's look when its wait ran out: handed the lock just then, or
        first in line at an idle lock with its pause over (it takes it); else it waits on."""
        with self._mutex:
            if self._owner == waiter.ident:
                return True
            queue = self._waiting[True]
            if self._owner is None and queue[0] is waiter and self._background_may_go():
                queue.popleft()
                self._grant(waiter.ident, True)
                return True
            return False

    def _give_up_place(self, waiter: _Waiter | _LoopWaiter, background: bool) -> None:
        """An interrupted wait (a signal's exception in the main thread, a cancelled
        coroutine) leaves the queue. Left in it, the waiter would be handed the lock by the
        next release and nobody would ever release it: every later transaction of the process
        would wait for ever."""
        with self._mutex:
            if self._owner == waiter.ident:
                # Handed over as the wait was interrupted: released below, by this thread.
                self._owner = threading.get_ident()
                granted, next_waiter = True, None
            else:
                granted = False
                queue = self._waiting[background]
                if waiter in queue:  # not when passed over, its event loop closed
                    queue.remove(waiter)
                next_waiter = self._hand_over() if self._owner is None else None
        if granted:
            self.release()
        elif next_waiter is not None:
            self._wake(next_waiter)

    def release(self) -> None:
        with self._mutex:
            if self._owner != threading.get_ident():
                raise RuntimeError("released by a thread that does not hold it")
            self._depth -= 1
            if self._depth > 0:
                return
            self._owner = None
            if self._owner_is_background and self._webhooks_wait():
                now = self._clock()
                self._background_not_before = now + (now - self._since) * self._payback
            waiter = self._hand_over()
        if waiter is not None:
            self._wake(waiter)

    def _wake(self, waiter: _Waiter | _LoopWaiter) -> None:
        """Wake the waiter just made the owner; one whose event loop has closed cannot take
        the lock over, so it goes to the next in line instead of staying held for ever."""
        while not waiter.go():
            with self._mutex:
                if self._owner != waiter.ident:
                    return
                self._owner, self._depth = None, 0
                next_waiter = self._hand_over()
            if next_waiter is None:
                return
            waiter = next_waiter

    def waiting(self) -> int:
        """Threads queued right now, both kinds."""
        with self._mutex:
            return len(self._waiting[False]) + len(self._waiting[True])

    def _webhooks_wait(self) -> bool:
        return bool(self._waiting[False]) or self._webhooks_pending > 0

    def _background_may_go(self) -> bool:
        return not self._webhooks_wait() or self._clock() >= self._background_not_before

    def _may_start(self, background: bool) -> bool:
        """Whether a newcomer may take the free lock rather than queue."""
        if background:
            return not self._waiting[True] and self._background_may_go()
        return not (self._waiting[True] and self._background_may_go())

    def _hand_over(self) -> _Waiter | _LoopWaiter | None:
        """Make the next waiter the owner (the caller wakes it): background work whose pause
        is over, else the oldest webhook; None leaves the lock free."""
        for background in (True, False):
            queue = self._waiting[background]
            if queue and (not background or self._background_may_go()):
                waiter = queue.popleft()
                self._grant(waiter.ident, background)
                return waiter
        return None

    def _grant(self, ident: int, background: bool) -> None:
        self._owner = ident
        self._owner_is_background = background
        self._since = self._clock()
        self._depth = 1

    def _pause_left(self) -> float:
        """How long a background waiter sleeps before it looks again: until its pause ends,
        and never long, so a pause that ended while it slept costs it little."""
        return min(max(self._background_not_before - self._clock(), 0.0) + 0.001, 0.1)

"""The SQLite writer lock: each kind in arrival order, the outbox paused after each hold while
webhooks wait, nobody starved, the holder may re-enter."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.crypto import Vault, generate_encryption_key, generate_index_key
from bot.db import make_engine, session_factory, transaction
from bot.writer_lock import BACKGROUND_SHARE, WriterLock


class Clock:
    """Time that moves only when a holder says it held the lock so long."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Queue:
    """Threads that line up for the lock one by one, in a known order, and log their turn.

    A name is its kind and how long it holds the lock: "b1:20" is background work holding
    it 20 time units, "w3:10" a webhook holding it 10.
    """

    def __init__(self, lock: WriterLock, clock: Clock) -> None:
        self.lock = lock
        self.clock = clock
        self.turns: list[str] = []
        self.threads: list[threading.Thread] = []

    def line_up(self, name: str) -> None:
        before = self.lock.waiting()
        thread = threading.Thread(target=self.take, args=(name,))
        thread.start()
        self.threads.append(thread)
        deadline = time.monotonic() + 5
        while self.lock.waiting() == before:  # queued before the next one starts
            assert time.monotonic() < deadline, f"{name} never queued"
            time.sleep(0.001)

    def take(self, name: str) -> None:
        label, _, units = name.partition(":")
        with self.lock.held(background=label.startswith("b")):
            self.turns.append(label)
            self.clock.now += float(units or 0)

    def finish(self) -> list[str]:
        for thread in self.threads:
            thread.join(timeout=5)
        return self.turns


@contextmanager
def held(lock: WriterLock, clock: Clock) -> Iterator[Queue]:
    """The lock held (by a webhook, for no time) while the test lines threads up; they go
    when the block ends."""
    queue = Queue(lock, clock)
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
        # outbox work not paused goes in turn; then it pauses three times its hold
        (["b1:10", "w1:10"], ["b1", "w1"]),
        (
            ["b1:10", "b2:10", "w1:10", "w2:10", "w3:10", "w4:10", "w5:10"],
            ["b1", "w1", "w2", "w3", "b2", "w4", "w5"],
        ),
        # a long background hold pauses it longer than a short one
        (
            ["b1:20", "b2:5", *(f"w{n}:10" for n in range(1, 9))],
            ["b1", "w1", "w2", "w3", "w4", "w5", "w6", "b2", "w7", "w8"],
        ),
    ],
)
def test_who_goes_next(arrivals: list[str], served: list[str]) -> None:
    clock = Clock()
    lock = WriterLock(background_share=0.25, clock=clock)
    with held(lock, clock) as queue:
        for name in arrivals:
            queue.line_up(name)
    assert queue.turns == served


def test_outbox_work_that_kept_nobody_waiting_is_not_paused() -> None:
    clock = Clock()
    lock = WriterLock(clock=clock)
    Queue(lock, clock).take("b0:100")  # alone: no webhook waited for it
    with held(lock, clock) as queue:
        queue.line_up("b1:10")
        queue.line_up("w1:10")
    assert queue.turns == ["b1", "w1"]


def test_queued_webhooks_pause_outbox_work_even_with_no_thread_at_the_lock() -> None:
    """SQLite's webhooks share one database thread: between two of its transactions nobody
    is at the lock, yet more messages are queued for that thread."""
    lock = WriterLock(background_share=0.25)
    started: list[float] = []
    with lock.webhooks_pending():
        with lock.held(background=True):
            time.sleep(0.03)  # a 30 ms routing timer while a message is queued
        paused_from = time.monotonic()
        job = _outbox_job(lock, started)
        time.sleep(0.02)
        assert not started  # the lock is free, but the outbox pauses for the webhook
        with lock:  # whose transaction goes at once
            pass
        job.join(timeout=5)
    assert started and started[0] - paused_from >= 0.08  # three times 30 ms, less slack


def test_outbox_work_goes_on_once_no_webhook_is_queued() -> None:
    lock = WriterLock(background_share=0.25)
    started: list[float] = []
    with lock.webhooks_pending():
        with lock.held(background=True):
            time.sleep(0.2)  # pauses the outbox 0.6 s while messages are queued
        job = _outbox_job(lock, started)
        time.sleep(0.02)
        assert not started
    done = time.monotonic()
    job.join(timeout=5)
    assert started and started[0] - done < 0.05


def _outbox_job(lock: WriterLock, started: list[float]) -> threading.Thread:
    def run() -> None:
        with lock.held(background=True):
            started.append(time.monotonic())

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_by_default_background_work_pauses_as_long_as_it_held_the_lock() -> None:
    assert BACKGROUND_SHARE == 0.5
    clock = Clock()
    lock = WriterLock(clock=clock)
    with held(lock, clock) as queue:
        for name in ["b1:10", "b2:10", "w1:5", "w2:5", "w3:5"]:
            queue.line_up(name)
    assert queue.turns == ["b1", "w1", "w2", "b2", "w3"]


def test_the_share_must_be_a_fraction() -> None:
    for share in (0, -0.5, 1.5):
        with pytest.raises(ValueError):
            WriterLock(background_share=share)


def test_the_holder_can_enter_again() -> None:
    lock = WriterLock()
    with lock, lock.held(background=True), lock:
        pass
    done = threading.Event()

    def take_and_release() -> None:
        lock.acquire()
        done.set()
        lock.release()

    threading.Thread(target=take_and_release).start()
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


class Interrupted(Exception):
    """What a signal handler raises in the main thread while it waits (SIGTERM, say)."""


@pytest.mark.parametrize("background", [False, True])
def test_a_wait_interrupted_by_a_signal_gives_up_its_place(background: bool) -> None:
    """The main thread waiting for the lock (a CLI command, `doorway worker`) can be
    interrupted by a signal handler's exception. If its place stayed in the queue, the next
    release handed the lock to a thread no longer waiting and nobody could take it again."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise Interrupted

    lock = WriterLock()
    holding, let_go = threading.Event(), threading.Event()

    def holder() -> None:
        with lock.held():
            holding.set()
            let_go.wait(timeout=5)

    first = threading.Thread(target=holder)
    first.start()
    assert holding.wait(timeout=5)
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(Interrupted):
            lock.acquire(background=background)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert lock.waiting() == 0
    let_go.set()
    first.join(timeout=5)
    taken = threading.Event()

    def take_and_release() -> None:
        lock.acquire()
        taken.set()
        lock.release()

    later = threading.Thread(target=take_and_release)
    later.daemon = True  # on the old code it waits for ever
    later.start()
    assert taken.wait(timeout=2), "the lock went to the interrupted waiter"


async def test_a_webhook_on_the_loop_takes_the_lock_at_once_only_when_nobody_is_due() -> None:
    clock = Clock()
    lock = WriterLock(clock=clock)
    await asyncio.wait_for(lock.acquire_on_loop(), 1)  # free
    lock.release()
    with lock.webhooks_pending():
        Queue(lock, clock).take("b0:10")  # background work held it while a webhook waited
        started: list[float] = []
        job = _outbox_job(lock, started)  # and waits out its pause, asleep
        deadline = time.monotonic() + 5
        while lock.waiting() == 0:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.001)
        await asyncio.wait_for(lock.acquire_on_loop(), 1)  # still paused: the webhook goes
        lock.release()
        clock.now += 10  # the pause is over: the background work is due its turn
        waiting = asyncio.ensure_future(lock.acquire_on_loop())
        await asyncio.sleep(0.01)
        assert not waiting.done() and lock.waiting() == 2  # queued behind it
        await asyncio.wait_for(waiting, 2)
        assert started  # the background work went first
        lock.release()
    job.join(timeout=5)


def free_for_another_thread(lock: WriterLock) -> bool:
    """Whether another thread can take the lock now (and give it back)."""
    taken = threading.Event()

    def take() -> None:
        with lock:
            taken.set()

    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    return taken.wait(timeout=5)


def held_by_another_thread(lock: WriterLock, done: threading.Event) -> threading.Thread:
    """A thread holding the lock until `done` is set."""
    holding = threading.Event()

    def hold() -> None:
        with lock:
            holding.set()
            done.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(5)
    return holder


async def test_a_webhook_on_the_event_loop_waits_its_turn_without_blocking_the_loop() -> None:
    lock = WriterLock()
    done = threading.Event()
    holder = held_by_another_thread(lock, done)
    waiting = asyncio.ensure_future(lock.acquire_on_loop())
    await asyncio.sleep(0.02)  # the loop runs on
    assert not waiting.done() and lock.waiting() == 1
    done.set()
    await asyncio.wait_for(waiting, 5)
    lock.release()  # taken over by this thread: released here
    holder.join()


@pytest.mark.parametrize("cancelled", ["while queued", "after the lock was handed to it"])
async def test_a_cancelled_webhook_on_the_event_loop_never_keeps_the_lock(cancelled: str) -> None:
    lock = WriterLock()
    done = threading.Event()
    holder = held_by_another_thread(lock, done)
    waiting = asyncio.ensure_future(lock.acquire_on_loop())
    await asyncio.sleep(0.01)
    if cancelled == "after the lock was handed to it":
        done.set()
        holder.join()  # blocks the loop: handed over, the coroutine not yet woken
        assert lock.waiting() == 0
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    done.set()
    holder.join()
    assert free_for_another_thread(lock) and lock.waiting() == 0


def test_a_webhook_whose_event_loop_closed_while_it_waited_never_keeps_the_lock() -> None:
    lock = WriterLock()
    done = threading.Event()
    holder = held_by_another_thread(lock, done)
    loop = asyncio.new_event_loop()
    waiting = loop.create_task(lock.acquire_on_loop())
    loop.run_until_complete(asyncio.sleep(0.01))
    assert lock.waiting() == 1
    loop.close()  # as a crashed server's loop may, with the wait still queued
    done.set()  # the holder hands over to the waiter, whose loop can no longer wake it
    holder.join(timeout=5)
    assert free_for_another_thread(lock)
    waiting.get_coro().close()  # what is left of the wait ends quietly
    # The task stays pending for ever with its loop gone, by design: asyncio would print
    # "Task was destroyed but it is pending!" at the end of the run.
    waiting._log_destroy_pending = False  # type: ignore[attr-defined]


async def test_background_work_on_the_loop_waits_out_its_pause_then_goes() -> None:
    clock = Clock()
    lock = WriterLock(clock=clock)
    with lock.webhooks_pending():
        with lock.held(background=True):
            clock.now += 0.05  # a 50 ms timer while a webhook waits: a 50 ms pause
        waiting = asyncio.ensure_future(lock.acquire_on_loop(background=True))
        await asyncio.sleep(0.02)
        assert not waiting.done()  # paused, with the lock idle and nobody to hand it over
        clock.now += 0.05  # the pause is over: it looks again and goes
        await asyncio.wait_for(waiting, 2)
    lock.release()

"""Run the worker in the background: inside `doorway serve` (SQLite) or as `doorway worker`."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Collection

from bot.outbox.claim import JobKind
from bot.outbox.prune import prune_finished_jobs
from bot.outbox.settings import OutboxSettings, load_outbox_settings
from bot.outbox.wakeups import JobListener
from bot.outbox.worker import Worker
from bot.services import Services

log = logging.getLogger(__name__)

JOB_KINDS: tuple[JobKind, ...] = ("timer", "send")
#: How often finished jobs past `keep_days` are pruned (and once at start).
PRUNE_EVERY_SECONDS = 3600.0


class BackgroundWorker:
    """Rounds of the worker, woken at once when something is queued, else every poll.

    Timers and sends have rounds of their own, side by side: a round of sends lasts as long
    as the sender's pace makes it, and a handoff's routing must not wait for it.
    """

    def __init__(self, services: Services, settings: OutboxSettings | None = None) -> None:
        self.services = services
        self.settings = settings or load_outbox_settings()
        self.worker = Worker(services, self.settings)
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakes = {kind: asyncio.Event() for kind in JOB_KINDS}
        self._stop_pruning = asyncio.Event()

    def wake(self, kinds: Collection[str] = JOB_KINDS) -> None:
        """Safe from any thread: receive() calls it after committing queued jobs, with their
        kinds (a handoff request queues only a timer: the send loop need not look)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake_kinds, tuple(kinds))

    def _wake_kinds(self, kinds: Collection[str] = JOB_KINDS) -> None:
        for kind in kinds:
            if kind in self._wakes:
                self._wakes[kind].set()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.worker.stopping = False
        self._stop_pruning.clear()
        self.services.on_queued.append(self.wake)
        self._task = asyncio.create_task(self.run(), name="doorway-outbox")

    def request_stop(self) -> None:
        """Stop after the job in hand; called on the loop (a signal handler, `stop`)."""
        self.worker.request_stop()
        self._wake_kinds()
        self._stop_pruning.set()

    async def stop(self) -> None:
        """Stop with the app: finish the send in hand and hand the rest of the batch back,
        so a redeploy does not hold those messages until the lease runs out."""
        if self.wake in self.services.on_queued:
            self.services.on_queued.remove(self.wake)
        self.request_stop()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=self.settings.send_timeout_seconds)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None
        self.worker.close()

    async def run(self) -> None:
        """Rounds of timers, rounds of sends and hourly prunes until stopped; on PostgreSQL
        woken for jobs other processes queue (`bot.outbox.wakeups`)."""
        self._loop = asyncio.get_running_loop()
        listener = None
        if JobListener.wanted(self.services.engine):
            listener = JobListener(self.services.engine, self.wake)
            listener.start()
        try:
            await asyncio.gather(*(self._rounds(kind) for kind in JOB_KINDS), self._prunes())
        finally:
            if listener is not None:
                await asyncio.to_thread(listener.stop)
        log.info("outbox: worker stopped; %d claimed jobs handed back", self.worker.released)

    async def _rounds(self, kind: JobKind) -> None:
        """One kind's rounds; one failed round is logged (by type only) and the next tries."""
        wake = self._wakes[kind]
        while not self.worker.stopping:
            try:
                more_due = (await self.worker.run_round(kind=kind)).more_due
            except Exception as exc:
                # Database errors can quote parameters: log the type, never the text.
                log.error("outbox: round failed: %s", type(exc).__name__)
                more_due = False
            if self.worker.queued_sends:
                self.worker.queued_sends = False
                self._wakes["send"].set()  # a timer queued texts (a handoff's alerts): now
            if more_due or self.worker.stopping:
                continue  # else all that was due is done: wait for news (it may be here)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=self.settings.poll_seconds)
            wake.clear()

    async def _prunes(self) -> None:
        """Finished jobs past `keep_days` go at start and then every `PRUNE_EVERY_SECONDS`
        (several workers may prune at once: each takes rows no other holds)."""
        keep = dt.timedelta(days=self.settings.keep_days)
        while not self.worker.stopping:
            try:
                pruned = await asyncio.to_thread(
                    prune_finished_jobs,
                    self.services,
                    self.services.clock(),
                    keep,
                    stopping=lambda: self.worker.stopping,
                )
                if pruned:
                    log.info("outbox: pruned %d finished jobs", pruned)
            except Exception as exc:
                log.error("outbox: prune failed: %s", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_pruning.wait(), timeout=PRUNE_EVERY_SECONDS)

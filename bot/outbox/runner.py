"""Run the worker in the background: inside `doorway serve` (SQLite) or as `doorway worker`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection

from bot.outbox.claim import JobKind
from bot.outbox.settings import OutboxSettings, load_outbox_settings
from bot.outbox.worker import Worker
from bot.services import Services

log = logging.getLogger(__name__)

JOB_KINDS: tuple[JobKind, ...] = ("timer", "send")


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
        self.services.on_queued.append(self.wake)
        self._task = asyncio.create_task(self.run(), name="doorway-outbox")

    def request_stop(self) -> None:
        """Stop after the job in hand; called on the loop (a signal handler, `stop`)."""
        self.worker.request_stop()
        self._wake_kinds()

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

    async def run(self) -> None:
        """Rounds of timers and rounds of sends until stopped."""
        self._loop = asyncio.get_running_loop()
        await asyncio.gather(*(self._rounds(kind) for kind in JOB_KINDS))
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

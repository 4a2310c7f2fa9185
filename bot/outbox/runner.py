"""Run the worker in the background: inside `doorway serve` (SQLite) or as `doorway worker`."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.outbox.settings import OutboxSettings, load_outbox_settings
from bot.outbox.worker import Worker
from bot.services import Services

log = logging.getLogger(__name__)


class BackgroundWorker:
    """Rounds of the worker, woken at once when something is queued, else every poll."""

    def __init__(self, services: Services, settings: OutboxSettings | None = None) -> None:
        self.services = services
        self.settings = settings or load_outbox_settings()
        self.worker = Worker(services, self.settings)
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        """Safe from any thread: receive() calls it after committing queued jobs."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake.set)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = False
        self.services.on_queued.append(self.wake)
        self._task = asyncio.create_task(self.run(), name="doorway-outbox")

    async def stop(self) -> None:
        self._stopping = True
        if self.wake in self.services.on_queued:
            self.services.on_queued.remove(self.wake)
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=self.settings.send_timeout_seconds)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            self._task = None

    async def run(self) -> None:
        """Rounds until stopped; one failed round is logged (by type only) and the next tries."""
        self._loop = asyncio.get_running_loop()
        while not self._stopping:
            try:
                handled = await self.worker.run_once()
            except Exception as exc:
                # Database errors can quote parameters: log the type, never the text.
                log.error("outbox: round failed: %s", type(exc).__name__)
                handled = 0
            if handled or self._stopping:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.poll_seconds)
            self._wake.clear()

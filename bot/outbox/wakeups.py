"""Wake outbox workers in other processes when jobs are queued (PostgreSQL LISTEN/NOTIFY).

A worker inside the process that queued a job is woken directly (`Services.wake_outbox`).
One in another process (`doorway worker`, `serve --outbox-workers`, another machine) used
to find the job only at its next poll: up to a second late for every Telegram reply, every
coach's alert and every handoff's routing. Now a transaction that queued jobs sends a
NOTIFY with their kinds, which PostgreSQL delivers when, and only if, it commits; each
worker LISTENs on a connection of its own and starts a round at once. The poll stays, for a
notification lost while a listener reconnects.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Collection
from select import select as wait_until_readable
from typing import Any

from sqlalchemy import Engine, String, bindparam, event, func, literal, select
from sqlalchemy.orm import Session, sessionmaker

from bot.messaging import jobs_queued
from bot.prepared import fetch_one

log = logging.getLogger(__name__)

CHANNEL = "doorway_outbox"
#: How long a listener waits for a notification before it looks at its connection anyway.
LISTEN_SECONDS = 5.0
#: Pauses before a lost listener connection is made again, longest last and then kept.
RECONNECT_PAUSES = (0.5, 1.0, 2.0, 5.0)

Wake = Callable[[Collection[str]], None]

#: Built once and run on the driver's cursor (`bot.prepared`): through the ORM the NOTIFY
#: took 7 % of a busy outbox worker's time.
_NOTIFY = select(func.pg_notify(literal(CHANNEL), bindparam("kinds", type_=String())))


def announce_queued_jobs(sessions: sessionmaker[Session]) -> None:
    """Every transaction of these sessions that queued outbox jobs notifies the workers as it
    commits. PostgreSQL only: `build_services` registers it there (SQLite's worker shares
    the process and is woken directly)."""

    @event.listens_for(sessions, "before_commit")
    def _notify(session: Session) -> None:
        if session.in_nested_transaction():
            return  # a savepoint released: the outer commit notifies
        kinds = jobs_queued(session)
        if not kinds:
            return
        fetch_one(session, _NOTIFY, {"kinds": ",".join(sorted(kinds))})


class JobListener:
    """A thread that LISTENs for queued jobs and calls `wake` with their kinds.

    It only reads, so a database host that vanished without closing the connection would
    leave it waiting for ever; the engine's connections are probed when silent
    (`bot.db.PROBE_SILENT_CONNECTIONS`), which closes such a one and has it listen again."""

    def __init__(self, engine: Engine, wake: Wake) -> None:
        self.engine = engine
        self.wake = wake
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Written to by `stop`, so a listener waiting on the database returns at once.
        self._stop_read, self._stop_write = os.pipe()

    @staticmethod
    def wanted(engine: Engine) -> bool:
        return engine.dialect.name == "postgresql"

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="doorway-outbox-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        os.write(self._stop_write, b"x")
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        for end in (self._stop_read, self._stop_write):
            with contextlib.suppress(OSError):
                os.close(end)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._listen()
                failures = 0
            except Exception as exc:
                # Driver errors can quote connection details: log the type, never the text.
                pause = RECONNECT_PAUSES[min(failures, len(RECONNECT_PAUSES) - 1)]
                failures += 1
                log.warning(
                    "outbox: job notifications lost (%s); listening again in %.1f s",
                    type(exc).__name__,
                    pause,
                )
                self._stop.wait(pause)

    def _listen(self) -> None:
        """One connection's life: LISTEN, then pass each notification on until stopped."""
        pooled = self.engine.raw_connection()
        connection: Any = pooled.driver_connection
        pooled.detach()  # its own for as long as it listens, closed here, never pooled
        try:
            connection.autocommit = True
            connection.execute(f"LISTEN {CHANNEL}")
            # Jobs queued while this connection was being made would not be announced to it.
            self.wake(("send", "timer"))
            watched = [connection.fileno(), self._stop_read]
            while not self._stop.is_set():
                readable, _, _ = wait_until_readable(watched, [], [], LISTEN_SECONDS)
                if self._stop_read in readable:
                    return
                kinds: set[str] = set()
                # Reads what arrived (and finds a closed connection, which raises).
                for notification in connection.notifies(timeout=0):
                    kinds.update(notification.payload.split(","))
                if kinds:
                    self.wake(kinds)
        finally:
            pooled.close()

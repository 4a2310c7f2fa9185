"""SQLite's checkpoints in a thread of their own, out of the commits that answer people.

In WAL mode SQLite appends each commit to the write-ahead log and, once the log passes 1,000
pages, the commit that crosses the mark copies the log back into the database file and syncs
both files before it returns: a checkpoint. Measured in runs of 2,100 intake messages, one
commit in fifty did so and took 4-7.4 ms instead of about 0.1 ms: a fifth to two fifths of all
commit time. On SQLite that commit runs on the event loop, so every request waited too.

A server process now checkpoints from this thread instead, every `INTERVAL_SECONDS`, on a
connection of its own. The sqlite3 module lets go of the GIL while SQLite works, so the
copying and syncing run beside the event loop (on another core), which goes on reading
requests, understanding them and answering the ones that need no database meanwhile.

Each checkpoint copies without the process's writer lock first, while commits go on
appending (`UNLOCKED_COPIES` times: the second copies what was appended during the first),
then, holding the lock as background work, the few pages appended since, so the log ends
complete and the next commit starts it over. Without the lock the log never started over: no
checkpoint caught up with its end, and it grew to the fallback mark (80 MB in six seconds of
load) before a commit checkpointed it all at once. Holding the lock for the whole copy, the
thread held it for 4.7-6.8 ms every quarter of a second at 200 messages a second, and every
request that wanted to write waited behind it; with one copy before, 1-2 ms. Commits still
checkpoint themselves past `FALLBACK_PAGES`, should this thread ever stop or fall behind.
"""

from __future__ import annotations

import logging
import threading
from contextlib import nullcontext
from typing import Any

from sqlalchemy import Engine

from bot.db import set_autocheckpoint, writer_lock

log = logging.getLogger(__name__)

#: How often the thread copies the log back: at 300 messages a second the log grows by about
#: 6,000 pages a second, so each checkpoint copies at most a quarter of that.
INTERVAL_SECONDS = 0.25
#: Copies made while commits go on, before the one under the writer lock. With one, the lock
#: was held while what the commits appended during a whole copy was copied: 1.2-4.3 ms in a
#: run on an empty and one on a filled database (bench.scale's); with two, mostly 0.5-1.5 ms.
UNLOCKED_COPIES = 2
#: Commits checkpoint themselves only past this many pages (80 MB): a safety net.
FALLBACK_PAGES = 20_000


class WalCheckpointer:
    """Copies an SQLite engine's write-ahead log into its database file from a thread.

    `start` makes the engine's connections checkpoint only past `fallback_pages` (the pool
    is emptied so no connection keeps SQLite's 1,000) and starts the thread; `stop` ends it
    after a last checkpoint and empties the pool again, so connections checkpoint as SQLite
    does afterwards.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        interval: float = INTERVAL_SECONDS,
        fallback_pages: int = FALLBACK_PAGES,
    ) -> None:
        if engine.dialect.name != "sqlite":
            raise ValueError("checkpoints are SQLite's: PostgreSQL needs none")
        self.engine = engine
        self.interval = interval
        self.fallback_pages = fallback_pages
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._connection: Any = None

    def start(self) -> None:
        if self._thread is not None:
            return
        set_autocheckpoint(self.engine, self.fallback_pages)
        # Connections made before now would go on checkpointing at 1,000 pages: the pool lets
        # them go (one checked out now is closed when it comes back).
        self.engine.dispose()
        self._connection = self.engine.raw_connection()
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name="doorway-wal-checkpoints", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """End the thread after a last checkpoint. That checkpoint waits for the writer lock
        like the thread's: call this off the event loop (see `WriterLock`)."""
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        thread.join()
        self._thread = None
        self.checkpoint()
        self._connection.close()
        self._connection = None
        set_autocheckpoint(self.engine, None)
        self.engine.dispose()  # nor may pooled connections keep the fallback mark

    def checkpoint(self) -> None:
        """Copy the whole log back: twice while this process's commits go on (what the log
        holds, then what they appended meanwhile), then, holding the writer lock, the few
        pages appended during the second copy, so the log ends complete and the next commit
        starts it over."""
        lock = writer_lock(self.engine)
        try:
            for _ in range(UNLOCKED_COPIES):
                self._copy_back()
            with lock.held(background=True) if lock is not None else nullcontext():
                self._copy_back()
        except Exception as exc:
            # Not fatal: commits take over past the fallback mark. The type only.
            log.warning("sqlite: a checkpoint failed: %s", type(exc).__name__)

    def _copy_back(self) -> None:
        cursor = self._connection.cursor()
        try:
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            cursor.close()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.checkpoint()


__all__ = ["FALLBACK_PAGES", "INTERVAL_SECONDS", "WalCheckpointer"]

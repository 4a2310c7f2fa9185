"""`doorway serve --outbox-workers M` with one server process: the server is the parent.

With a supervising parent (bot/web/prefork.py), every page the server and the outbox worker
both write to exists three times: the parent's original and each child's copy. With the
server as the parent, it exists twice. Measured on PostgreSQL under load (`bench.memory
--database`): 218.0 MB PSS for the supervised pair, 193.2 MB with the server as the parent.

The children are forked before the server starts any thread. One that ends while the server
runs is replaced by a `doorway worker` started afresh (a process with threads must not fork
again; the replacement loads what it needs itself, costing more memory, until the next
restart), after the same growing pause the supervisor keeps; it ends with the server as a
forked child does (`prefork.end_with_parent_if_asked`). When the server stops, the
children get SIGTERM, finish the send in hand, and any still running after the grace period
is killed.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

from bot.web.prefork import (
    END_WITH_PARENT_ENV,
    fork_child,
    refuse_if_threads,
    restart_pause,
    signal_child,
)

log = logging.getLogger(__name__)

#: How often the watcher looks for a child that ended.
WATCH_SECONDS = 0.5
#: What replaces a forked outbox worker that ended: the same role, started afresh.
REPLACEMENT = [sys.executable, "-m", "bot", "worker"]


class OutboxChildren:
    """The server's outbox worker processes: forked at start, replaced, stopped with it."""

    def __init__(self, send: Callable[[], int], count: int, grace_seconds: float) -> None:
        self.send = send
        self.count = count
        self.grace_seconds = grace_seconds
        #: pid -> when it started.
        self.children: dict[int, float] = {}
        self.short_lives = 0
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        """Fork the children (before any thread starts), then watch them."""
        refuse_if_threads()
        for _ in range(self.count):
            self.children[fork_child(self.send)] = time.monotonic()
        self._watcher = threading.Thread(target=self._watch, name="doorway-outbox-children")
        self._watcher.daemon = True
        self._watcher.start()

    @staticmethod
    def outlive_server_signals() -> None:
        """Let the server's process go on to stop its children after uvicorn has shut down:
        uvicorn re-raises the SIGTERM or SIGINT it handled once it has finished, with the
        handler it found, which by default would end the process there."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, _after_uvicorn)

    def stop(self) -> bool:
        """SIGTERM every child and wait for them; False if one had to be killed."""
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join()  # from here on, only this thread touches `children`
        pids = list(self.children)
        for pid in pids:
            signal_child(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        clean = True
        for pid in pids:
            while not _ended(pid):
                if time.monotonic() > deadline:
                    signal_child(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    clean = False
                    break
                time.sleep(0.05)
        return clean

    def _watch(self) -> None:
        while not self._stopping.wait(WATCH_SECONDS):
            ended = [(pid, started) for pid, started in self.children.items() if _ended(pid)]
            for pid, started in ended:
                del self.children[pid]
                self._replace(pid, time.monotonic() - started)

    def _replace(self, pid: int, lived: float) -> None:
        self.short_lives, pause = restart_pause(self.short_lives, lived)
        log.error(
            "outbox worker process %d ended after %.1f s; starting `doorway worker` in %.0f s",
            pid,
            lived,
            pause,
        )
        if self._stopping.wait(pause):
            return
        environment = {**os.environ, END_WITH_PARENT_ENV: str(os.getpid())}
        spawned = os.posix_spawn(REPLACEMENT[0], REPLACEMENT, environment)
        self.children[spawned] = time.monotonic()


def _after_uvicorn(signum: int, _frame: object) -> None:
    """The signal uvicorn re-raises after its graceful shutdown: the stop goes on."""
    log.info("server stopped (%s); stopping its outbox workers", signal.Signals(signum).name)


def _ended(pid: int) -> bool:
    """Whether this child has ended (and is reaped now)."""
    try:
        done, _status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == pid

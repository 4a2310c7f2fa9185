"""Load once, then fork: `doorway serve --workers N --outbox-workers M` on PostgreSQL.

A process started afresh loads the web stack, the ORM, the dialogues and catalogs, the
language detector and the NLU models for itself: about 180 MB for a server, 90 MB for an
outbox worker. Forked from a parent that has loaded them, the children share those pages
(copy-on-write) and each adds only the memory it writes to. Start-up objects are frozen out
of the cyclic collector first, so a collection in a child does not write to every one of them.

With two or more servers the parent only supervises (with one, the server is the outbox
workers' parent: bot/web/outbox_children.py). The listening socket is bound before the
fork and every server child accepts on it. A child that dies is replaced (after a growing
pause while it keeps dying at start); SIGTERM or SIGINT is passed on to every child, which
finishes what it has in hand (uvicorn's graceful shutdown, the outbox's job in hand), and
one that has not stopped by the grace period is killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: The signals the parent waits for instead of handling them.
WATCHED = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGCHLD})
#: A child that dies sooner than this after its start is replaced only after a pause, so a
#: child that cannot start does not make the parent fork in a tight loop. The pause doubles
#: with each such death in a row of the same role, up to the longest: a role that cannot
#: start (a bad setting, the database refusing connections) is tried again for as long as it
#: takes, without flooding the log, and comes back within half a minute once it can.
SHORT_LIFE_SECONDS = 5.0
RESTART_PAUSE_SECONDS = 1.0
LONGEST_RESTART_PAUSE_SECONDS = 30.0
#: prctl(2)'s option: the signal a process gets when its parent ends.
PR_SET_PDEATHSIG = 1
#: Set for a process started afresh (not forked) that must end with its parent: the pid of
#: that parent (bot/web/outbox_children.py's replacements).
END_WITH_PARENT_ENV = "DOORWAY_END_WITH_PARENT"


@dataclass(frozen=True)
class Role:
    """What one kind of child runs; `run` returns the child's exit status."""

    name: str
    run: Callable[[], int]


@dataclass
class _Child:
    role: Role
    started: float


class ForkedBeforeThreadsError(RuntimeError):
    """A thread was running in the parent: a forked child would inherit its locks held."""


class Supervisor:
    """Forks each role's children and keeps them running until told to stop."""

    def __init__(self, roles: list[Role], grace_seconds: float) -> None:
        self.roles = roles
        self.grace_seconds = grace_seconds
        self.children: dict[int, _Child] = {}
        #: Replacements waiting for their pause to end: (when, role).
        self.restarts: list[tuple[float, Role]] = []
        #: Per role name, how many of its children in a row died soon after starting.
        self.short_lives: dict[str, int] = {}
        self.stopping_since: float | None = None
        self.failed = False

    def run(self) -> int:
        """Fork every child, then wait for signals; 0 once all stopped after SIGTERM/SIGINT."""
        refuse_if_threads()
        signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
        try:
            for role in self.roles:
                self._fork(role)
            while self.children or self.restarts:
                received = signal.sigtimedwait(WATCHED, self._wait_seconds())
                if received is not None and received.si_signo != signal.SIGCHLD:
                    self._stop_children()
                self._reap()
                self._restart_due()
                self._kill_stragglers()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, WATCHED)
        return 1 if self.failed else 0

    def _fork(self, role: Role) -> None:
        pid = fork_child(role.run, unblock=WATCHED)
        self.children[pid] = _Child(role, time.monotonic())

    def _reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                return
            if pid == 0:
                return
            child = self.children.pop(pid, None)
            if child is None:
                continue
            if self.stopping_since is not None:
                # Ended by the SIGTERM passed on (its default action) is a clean stop too.
                if os.waitstatus_to_exitcode(status) not in (0, -signal.SIGTERM):
                    self.failed = True
                continue
            now = time.monotonic()
            lived = now - child.started
            pause = self._pause_after(child.role.name, lived)
            log.error(
                "%s process %d ended (status %d) after %.1f s; starting another in %.0f s",
                child.role.name,
                pid,
                os.waitstatus_to_exitcode(status),
                lived,
                pause,
            )
            self.restarts.append((now + pause, child.role))

    def _pause_after(self, name: str, lived: float) -> float:
        self.short_lives[name], pause = restart_pause(self.short_lives.get(name, 0), lived)
        return pause

    def _restart_due(self) -> None:
        now = time.monotonic()
        due = [role for when, role in self.restarts if when <= now]
        self.restarts = [(when, role) for when, role in self.restarts if when > now]
        for role in due:
            self._fork(role)

    def _wait_seconds(self) -> float:
        """Until the next replacement is due, at most a second (the grace period's check)."""
        if not self.restarts:
            return 1.0
        return max(0.0, min(1.0, min(when for when, _ in self.restarts) - time.monotonic()))

    def _stop_children(self) -> None:
        if self.stopping_since is None:
            self.stopping_since = time.monotonic()
        self.restarts.clear()  # a replacement not yet started is not started now
        for pid in self.children:
            signal_child(pid, signal.SIGTERM)

    def _kill_stragglers(self) -> None:
        if self.stopping_since is None:
            return
        if time.monotonic() - self.stopping_since > self.grace_seconds:
            for pid in self.children:
                signal_child(pid, signal.SIGKILL)
            self.failed = True


def refuse_if_threads() -> None:
    """Raise before forking from a process with other threads: a child would inherit the
    locks they hold, held for ever."""
    if threading.active_count() > 1:
        others = [t for t in threading.enumerate() if t is not threading.main_thread()]
        names = ", ".join(t.name for t in others)
        raise ForkedBeforeThreadsError(f"threads running before the fork: {names}")


def restart_pause(short_lives: int, lived: float) -> tuple[int, float]:
    """After a child lived `lived` seconds, with `short_lives` short lives in a row before it:
    the new count, and the pause before its replacement (none after a long life; after the
    n-th short one in a row, 2^(n-1) s, capped)."""
    if lived >= SHORT_LIFE_SECONDS:
        return 0, 0.0
    deaths = short_lives + 1
    return deaths, min(RESTART_PAUSE_SECONDS * 2.0 ** (deaths - 1), LONGEST_RESTART_PAUSE_SECONDS)


def fork_child(run: Callable[[], int], *, unblock: frozenset[signal.Signals] = frozenset()) -> int:
    """Fork a child that runs `run` and exits with its status (never returning into the
    parent's code), ends with its parent, and has default handlers for `unblock`, unblocked
    (signals the parent waits for itself). Returns the child's pid."""
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            for signum in unblock:
                signal.signal(signum, signal.SIG_DFL)
            if unblock:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, unblock)
            end_with(parent)
            status = run()
        except BaseException:  # whatever it was, the child ends here
            traceback.print_exc()
        finally:
            os._exit(status)
    return pid


def end_with(parent: int) -> None:
    """Have the kernel send this child SIGTERM when the parent dies (SIGKILL, the OOM killer),
    so no process goes on serving on the port with nobody to replace or stop it (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the kernel was asked
        os.kill(os.getpid(), signal.SIGTERM)


def end_with_parent_if_asked() -> None:
    """In a process started afresh by a parent that stops it (`doorway worker` replacing a
    forked outbox worker): end with that parent, as a forked child does. posix_spawn cannot
    ask the kernel for this, so the new process asks for itself; the variable is not passed
    on to anything it starts."""
    parent = os.environ.pop(END_WITH_PARENT_ENV, "")
    if parent.isdigit():
        end_with(int(parent))


def signal_child(pid: int, signum: signal.Signals) -> None:
    """Send a child a signal; one that ended meanwhile is let be."""
    with contextlib.suppress(ProcessLookupError):  # it ended between the wait and now
        os.kill(pid, signum)

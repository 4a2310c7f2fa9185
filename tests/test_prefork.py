"""The supervisor behind `serve --workers N --outbox-workers M`: it forks each role's
processes, replaces one that dies, passes SIGTERM on and kills what outlives the grace period.

Each case runs the supervisor in a fresh interpreter: forking the test process (with whatever
threads pytest and earlier tests left) is exactly what the supervisor refuses to do.
"""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.web.prefork import ForkedBeforeThreadsError, Role, Supervisor

#: A parent with two roles: "steady" runs until SIGTERM, "flaky" dies once on its first start.
PROGRAM = textwrap.dedent(
    """
    import os, signal, sys, time
    from pathlib import Path
    from bot.web import prefork

    prefork.SHORT_LIFE_SECONDS = 0.0  # replace at once: the test needs no pause
    folder = Path(sys.argv[1])
    stubborn = sys.argv[2] == "stubborn"

    def steady() -> int:
        (folder / f"steady-{os.getpid()}").touch()
        if stubborn:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(0.05)

    def flaky() -> int:
        (folder / f"flaky-{os.getpid()}").touch()
        if not (folder / "died-once").exists():
            (folder / "died-once").touch()
            return 3
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        while not stop:
            time.sleep(0.05)
        (folder / f"stopped-{os.getpid()}").touch()
        return 0

    roles = [prefork.Role("steady", steady), prefork.Role("flaky", flaky)]
    sys.exit(prefork.Supervisor(roles, grace_seconds=float(sys.argv[3])).run())
    """
)


def start(folder: Path, *, stubborn: bool = False, grace: float = 10.0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", PROGRAM, str(folder), "stubborn" if stubborn else "", str(grace)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_for(check: Callable[[], bool], seconds: float = 20.0, what: str = "it") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def started(folder: Path, role: str) -> list[int]:
    return sorted(int(p.name.split("-")[1]) for p in folder.glob(f"{role}-*"))


def stopped(parent: subprocess.Popen[str]) -> tuple[str, float]:
    """SIGTERM the supervisor: what it printed and how many seconds it took to end."""
    began = time.monotonic()
    parent.send_signal(signal.SIGTERM)
    output = parent.communicate(timeout=20)[0]
    return output, time.monotonic() - began


def alive(pid: int) -> bool:
    """Running, not ended (a zombie not yet reaped counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_process_that_dies_is_replaced_and_sigterm_stops_them_all(tmp_path: Path) -> None:
    parent = start(tmp_path)
    try:
        wait_for(lambda: len(started(tmp_path, "flaky")) == 2)  # died once, started again
        wait_for(lambda: len(started(tmp_path, "steady")) == 1)
        first = started(tmp_path, "flaky")[0]  # the one that ended
        assert not alive(first)
        parent.send_signal(signal.SIGTERM)
        output = parent.communicate(timeout=20)[0]
    finally:
        if parent.poll() is None:
            parent.kill()
    assert parent.returncode == 0, output
    assert "flaky process" in output and "ended (status 3)" in output
    replaced = [pid for pid in started(tmp_path, "flaky") if pid != first]
    assert [p.name for p in tmp_path.glob("stopped-*")] == [f"stopped-{replaced[0]}"]
    assert not any(alive(pid) for pid in started(tmp_path, "steady") + replaced)
    assert len(started(tmp_path, "steady")) == 1  # a steady process was never restarted


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace_period(tmp_path: Path) -> None:
    parent = start(tmp_path, stubborn=True, grace=1.0)
    try:
        wait_for(lambda: len(started(tmp_path, "flaky")) == 2)
        wait_for(lambda: len(started(tmp_path, "steady")) == 1)
        output, took = stopped(parent)
    finally:
        if parent.poll() is None:
            parent.kill()
    assert parent.returncode == 1, output  # not a clean stop: the operator should know
    assert took >= 1.0
    assert not any(alive(pid) for pid in started(tmp_path, "steady"))


def test_the_processes_end_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    parent = start(tmp_path)
    try:
        wait_for(lambda: len(started(tmp_path, "flaky")) == 2)
        wait_for(lambda: len(started(tmp_path, "steady")) == 1)
        parent.kill()  # SIGKILL: no chance to pass anything on
        parent.communicate(timeout=20)
    finally:
        if parent.poll() is None:
            parent.kill()
    everyone = started(tmp_path, "steady") + started(tmp_path, "flaky")
    wait_for(lambda: not any(alive(pid) for pid in everyone), 10)
    assert len(list(tmp_path.glob("stopped-*"))) == 1  # the flaky one stopped as on SIGTERM


def test_it_refuses_to_fork_while_a_thread_runs() -> None:
    release = threading.Event()
    thread = threading.Thread(target=release.wait, name="busy-thread")
    thread.start()
    try:
        with pytest.raises(ForkedBeforeThreadsError, match="busy-thread"):
            Supervisor([Role("never", lambda: 0)], grace_seconds=1.0).run()
    finally:
        release.set()
        thread.join()


#: A parent whose one role can never start: each child ends at once with status 2.
FAILING = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from bot.web import prefork

    prefork.RESTART_PAUSE_SECONDS = 0.4  # the doubling, at a test's pace
    folder = Path(sys.argv[1])

    def broken() -> int:
        (folder / f"start-{time.monotonic():.3f}").touch()
        return 2

    sys.exit(prefork.Supervisor([prefork.Role("broken", broken)], grace_seconds=5.0).run())
    """
)


def test_a_process_that_cannot_start_is_retried_ever_later_and_sigterm_still_stops_at_once(
    tmp_path: Path,
) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", FAILING, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: len(list(tmp_path.glob("start-*"))) == 4, 20, "four starts")
        # The fourth start came after pauses of 0.4, 0.8 and 1.6 s; the next waits 3.2 s.
        time.sleep(0.5)
        output, took = stopped(parent)
    finally:
        if parent.poll() is None:
            parent.kill()
    starts = sorted(float(p.name.split("-", 1)[1]) for p in tmp_path.glob("start-*"))
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert len(starts) == 4, output  # no fifth start: SIGTERM came during the pause
    assert all(gap >= pause for gap, pause in zip(gaps, (0.4, 0.8, 1.6), strict=True)), gaps
    assert gaps[2] < 1.6 + 1.0, gaps  # waited for the pause, not a whole extra second
    assert took < 1.0  # the pause did not hold the stop back
    assert parent.returncode == 0, output
    assert "starting another in 2 s" in output  # 1.6 s, as logged

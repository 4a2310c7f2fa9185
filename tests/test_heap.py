"""A server process freezes what start-up loaded, so the garbage collector's full collections
stop walking the dialogues, catalogs, models and routes (85-130 ms pauses under load before)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.test_cli import command_environment

PROBE = """
import gc, json
from bot.web.factory import app
app()
print(json.dumps({"frozen": gc.get_freeze_count(), "tracked": len(gc.get_objects())}))
"""


def test_a_server_process_leaves_the_collector_only_what_it_made_after_start_up(
    tmp_path: Path,
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        env=command_environment(tmp_path),
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    heap = json.loads(result.stdout.strip().splitlines()[-1])
    assert heap["frozen"] > 50_000  # the app, its models and catalogs
    assert heap["tracked"] < heap["frozen"] / 10  # what a full collection still walks


ARENAS_PROBE = """
import ctypes, json, os, sys, tempfile, threading
from bot.heap import limit_malloc_arenas

capped = limit_malloc_arenas() if sys.argv[1] == "cap" else None

all_allocated = threading.Barrier(6)

def allocate():  # long-lived threads, as a server's pools keep theirs
    kept = [bytearray(100_000) for _ in range(20)]  # from malloc, below its mmap threshold
    all_allocated.wait()
    del kept

threads = [threading.Thread(target=allocate) for _ in range(6)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
folder = tempfile.mkdtemp()
path = os.path.join(folder, "malloc-info.xml")
stream = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, stream)
libc.fclose(stream)
heaps = open(path).read().count("<heap nr=")
child = os.popen(sys.executable + " -c 'import os; print(os.environ.get(\\"MALLOC_ARENA_MAX\\"))'")
print(json.dumps({"capped": capped, "heaps": heaps, "child_sees": child.read().strip()}))
"""


def _arenas(tmp_path: Path, mode: str, preset: str | None) -> dict[str, object]:
    env = command_environment(tmp_path)
    env.pop("MALLOC_ARENA_MAX", None)
    if preset is not None:
        env["MALLOC_ARENA_MAX"] = preset
    result = subprocess.run(
        [sys.executable, "-c", ARENAS_PROBE, mode],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    figures: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def test_long_running_processes_keep_to_two_malloc_arenas(tmp_path: Path) -> None:
    """Six threads that allocate and live on: glibc gives each its own arena unless capped;
    capped, the process keeps to two, and the processes it starts inherit the cap."""
    uncapped = _arenas(tmp_path, "none", None)
    capped = _arenas(tmp_path, "cap", None)
    assert isinstance(uncapped["heaps"], int) and uncapped["heaps"] > 2
    assert capped == {"capped": True, "heaps": 2, "child_sees": "2"}


def test_an_operators_own_arena_setting_is_kept(tmp_path: Path) -> None:
    figures = _arenas(tmp_path, "cap", "4")
    assert figures["capped"] is False
    assert figures["child_sees"] == "4"

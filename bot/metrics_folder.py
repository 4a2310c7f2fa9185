"""The folder forked processes share their metrics in (prometheus-client's multiprocess mode).

Apart from `bot.metrics` because it must be set up before prometheus-client is first
imported, which `bot.metrics` does at once.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

#: prometheus-client reads this when it is first imported.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def shared_between_processes() -> Iterator[None]:
    """One PROMETHEUS_MULTIPROC_DIR for every forked process, so a scrape of any server sees
    the counts of all (the outbox processes' too). A folder made here is removed when the
    processes have stopped (a forked child leaves with os._exit, never through here): each
    start makes a new one, and restarts would otherwise pile them up in /tmp."""
    assert "prometheus_client" not in sys.modules, "set before the first metric exists"
    if os.environ.get(MULTIPROC_ENV):  # the operator's own folder: theirs to manage
        yield
        return
    folder = os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="doorway-metrics-")
    try:
        yield
    finally:
        shutil.rmtree(folder, ignore_errors=True)

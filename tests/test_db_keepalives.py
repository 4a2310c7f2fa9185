"""A PostgreSQL host that vanishes without closing its connections (a partition, a crashed
machine) is noticed within a minute, not after TCP's two-hour keepalive or its quarter of an
hour of retransmissions: the kernel probes a silent connection after 30 s, and a statement
unanswered for 30 s fails. Read from the kernel itself (/proc/net/tcp, getsockopt)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot import db
from bot.crypto import Vault
from tests.conftest import TEST_ENCRYPTION_KEY, TEST_INDEX_KEY

#: /proc/net/tcp's timer kinds (`tr`) and the unit of its `tm->when` (USER_HZ).
TCP_TIMERS = {0: "none", 1: "retransmit", 2: "keepalive", 3: "time-wait", 4: "zero-window probe"}
CLOCK_TICKS = 100


def keepalive_timer(local_port: int) -> tuple[str, float]:
    """The kernel's pending timer on this machine's TCP connection from `local_port`: its
    kind and the seconds until it fires."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) != local_port:
                continue
            kind, when = fields[5].split(":")
            return TCP_TIMERS.get(int(kind, 16), kind), int(when, 16) / CLOCK_TICKS
    raise AssertionError(f"no TCP connection from port {local_port}")


@contextmanager
def pooled_socket(url: str) -> Iterator[socket.socket]:
    """The TCP socket under a connection from the engine Doorway makes for `url`."""
    engine = db.make_engine(url, Vault.from_keys(TEST_ENCRYPTION_KEY, TEST_INDEX_KEY))
    pooled = engine.raw_connection()
    try:
        descriptor = pooled.driver_connection.fileno()  # type: ignore[union-attr]
        with socket.socket(fileno=os.dup(descriptor)) as connection:
            assert connection.family in (socket.AF_INET, socket.AF_INET6), "reached by TCP"
            yield connection
    finally:
        pooled.close()
        engine.dispose()


@pytest.mark.parametrize(
    ("url_settings", "first_probe_within", "unanswered_fails_after_ms"),
    [
        ("", (0, 30), 30_000),
        ("&keepalives_idle=600", (30, 600), 30_000),  # the operator's URL wins
        ("&tcp_user_timeout=5000", (0, 30), 5_000),
    ],
)
def test_silent_connections_are_probed_and_unanswered_statements_fail(
    pg_schema_url: str,
    url_settings: str,
    first_probe_within: tuple[float, float],
    unanswered_fails_after_ms: int,
) -> None:
    with pooled_socket(pg_schema_url + url_settings) as connection:
        timer, seconds = keepalive_timer(connection.getsockname()[1])
        low, high = first_probe_within
        assert timer == "keepalive" and low < seconds <= high, (timer, seconds)
        user_timeout = connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)
        assert user_timeout == unanswered_fails_after_ms

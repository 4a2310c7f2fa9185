"""`doorway serve --workers N --outbox-workers 1` on PostgreSQL, as an operator runs it: server
processes and an outbox process forked from one parent (with one server, the server is the
parent), SMS through the Twilio fake."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot.db import upgrade
from bot.nlu.base import Interpreter
from bot.services import Services, build_services
from tests.conftest import TEST_ENCRYPTION_KEY, TEST_INDEX_KEY, make_settings
from tests.fakes.twilio_api import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    MESSAGING_SERVICE_SID,
    FakeTwilio,
    running_fake,
    sign,
)
from tests.fakes.twilio_app import inbound_form
from tests.outbox_support import queue_texts
from tests.test_demo import free_port
from tests.test_prefork import alive, wait_for

PEOPLE = ["+12125550141", "+12125550142", "+12125550143"]  # fictional (555-01xx)


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return sorted(found)


@pytest.fixture
def database(pg_schema_url: str, tmp_path: Path, interpreter: Interpreter) -> Iterator[Services]:
    services = build_services(make_settings(pg_schema_url, tmp_path), interpreter=interpreter)
    upgrade(services.engine)
    yield services
    services.close()


def start_server(
    url: str, tmp_path: Path, fake: FakeTwilio, port: int, *, servers: int = 2
) -> subprocess.Popen[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DOORWAY_", "TWILIO_", "TELEGRAM_", "PROMETHEUS_"))
    }
    (tmp_path / "tmp").mkdir()
    env.update(
        TMPDIR=str(tmp_path / "tmp"),  # where the shared metrics folder is made
        DOORWAY_DATA_DIR=str(tmp_path / "data"),
        DOORWAY_DATABASE_URL=url,
        DOORWAY_ENCRYPTION_KEYS=TEST_ENCRYPTION_KEY,
        DOORWAY_INDEX_KEY=TEST_INDEX_KEY,
        DOORWAY_PUBLIC_URL=f"http://127.0.0.1:{port}",
        DOORWAY_OUTBOX_RATE_PER_SECOND="0",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_MESSAGING_SERVICE_SID=MESSAGING_SERVICE_SID,
        TWILIO_API_BASE=fake.base_url,
    )
    command = ["serve", "--port", str(port), "--workers", str(servers), "--outbox-workers", "1"]
    return subprocess.Popen(
        [sys.executable, "-m", "bot", *command],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def text_in(base: str, body: str, sid: str, sender: str) -> httpx.Response:
    form = inbound_form(body, sid, sender=sender)
    signature = sign(AUTH_TOKEN, f"{base}/webhooks/twilio/sms", form)
    return httpx.post(
        f"{base}/webhooks/twilio/sms", data=form, headers={"X-Twilio-Signature": signature}
    )


@contextmanager
def serving(database: Services, tmp_path: Path, port: int, *, servers: int) -> Iterator[Served]:
    """The command running against the Twilio fake and healthy; killed if a test fails."""
    base = f"http://127.0.0.1:{port}"
    with running_fake() as fake:
        url = database.settings.resolved_database_url
        server = start_server(url, tmp_path, fake, port, servers=servers)
        try:
            wait_for(lambda: _healthy(base) or server.poll() is not None, 120, "/healthz")
            assert server.poll() is None, server.communicate()[0]
            yield Served(server, fake, base)
        finally:
            if server.poll() is None:
                server.kill()
                server.wait()


@dataclass
class Served:
    process: subprocess.Popen[str]
    fake: FakeTwilio
    base: str

    def stop(self) -> tuple[str, list[int]]:
        """SIGTERM, as a deploy sends it: the output, and the children it had."""
        last = children(self.process.pid)
        self.process.send_signal(signal.SIGTERM)
        return self.process.communicate(timeout=60)[0], last


def test_servers_and_an_outbox_process_forked_from_one_parent(
    database: Services, tmp_path: Path
) -> None:
    queued = queue_texts(database, PEOPLE)  # waiting before the processes start
    with serving(database, tmp_path, free_port(), servers=2) as served:
        fake, base, pid = served.fake, served.base, served.process.pid
        processes = children(pid)
        assert len(processes) == 3  # two servers and an outbox process
        assert len(list((tmp_path / "tmp").glob("doorway-metrics-*"))) == 1

        # The outbox process sends what was queued; the servers answer texts inline.
        wait_for(lambda: len(fake.delivered) >= len(queued), 30, "the queued texts")
        assert sorted(r.form["To"] for r in fake.delivered) == sorted(PEOPLE)
        replies = [text_in(base, "hi", f"SM{n:032x}", PEOPLE[n]) for n in range(3)]
        assert [r.status_code for r in replies] == [200] * 3
        assert all("<Message>" in r.text for r in replies)

        # Any server's scrape counts the outbox process's sends too (one metrics folder).
        scrape = httpx.get(f"{base}/metrics").text
        sent = re.search(
            r'doorway_outbound_messages_total\{channel="sms",status="sent"\} (\S+)', scrape
        )
        assert sent is not None and float(sent.group(1)) == len(queued), scrape[-2000:]

        # A process that dies is replaced; the others go on.
        os.kill(processes[0], signal.SIGKILL)
        wait_for(
            lambda: len(children(pid)) == 3 and processes[0] not in children(pid),
            30,
            "a replacement process",
        )
        again = text_in(base, "hi", f"SM{9:032x}", "+12125550149")
        assert again.status_code == 200 and "<Message>" in again.text
        output, last = served.stop()
    assert served.process.returncode == 0, output
    assert "with 2 processes serving" in output
    assert "Outbox worker: 1 process of its own" in output
    assert not any(alive(pid) for pid in last)
    assert not list((tmp_path / "tmp").glob("doorway-metrics-*"))  # removed, not left in /tmp


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def command_line(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")


def replace_outbox_worker(server: int, forked: int) -> int:
    """Kill the server's forked outbox worker; the pid of the `doorway worker` it starts."""
    os.kill(forked, signal.SIGKILL)
    wait_for(
        lambda: any("bot worker" in command_line(p) for p in children(server)),
        30,
        "a replacement outbox worker",
    )
    (replacement,) = children(server)
    return replacement


def test_one_server_is_its_outbox_workers_parent_and_replaces_one_that_ends(
    database: Services, tmp_path: Path
) -> None:
    queued = queue_texts(database, PEOPLE[:2])
    with serving(database, tmp_path, free_port(), servers=1) as served:
        fake, pid = served.fake, served.process.pid
        (forked,) = children(pid)  # the outbox worker; the server is this process
        wait_for(lambda: len(fake.delivered) >= len(queued), 30, "the queued texts")
        reply = text_in(served.base, "hi", f"SM{1:032x}", PEOPLE[2])
        assert reply.status_code == 200 and "<Message>" in reply.text

        # An outbox worker that dies is replaced by a `doorway worker` started afresh.
        replace_outbox_worker(pid, forked)
        later = queue_texts(database, ["+12125550144"])
        wait_for(lambda: len(fake.delivered) >= len(queued) + len(later), 60, "a later text")
        output, last = served.stop()
    assert served.process.returncode == 0, output
    assert "with 1 process serving" in output
    assert "outbox worker process" in output and "starting `doorway worker`" in output
    assert not any(alive(pid) for pid in last)


def test_a_replacement_outbox_worker_ends_with_its_server(
    database: Services, tmp_path: Path
) -> None:
    """Killed outright (the OOM killer, SIGKILL), the server cannot stop its outbox worker:
    the kernel does, for the replacement started afresh as for the forked one."""
    with serving(database, tmp_path, free_port(), servers=1) as served:
        (forked,) = children(served.process.pid)
        replacement = replace_outbox_worker(served.process.pid, forked)
        served.process.kill()
        served.process.wait()
        wait_for(lambda: not alive(replacement), 30, "the replacement to end with its server")
        served.process.communicate(timeout=30)  # its output, which the replacement shared

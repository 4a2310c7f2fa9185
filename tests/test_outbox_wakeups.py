"""On PostgreSQL an outbox worker in another process (`doorway worker`, a forked outbox
process) is woken by the commit that queued a job, not at its next poll: a reply through
the outbox goes out at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from bot.conversations import receive
from bot.db import PROBE_SILENT_CONNECTIONS
from bot.nlu.base import Interpreter
from bot.outbox import BackgroundWorker, load_outbox_settings
from bot.outbox.wakeups import CHANNEL
from bot.services import Services
from connectors.base import InboundMessage
from tests.conftest import FakeClock, migrated_services
from tests.fakes.twilio_api import FakeTwilio, running_fake
from tests.fakes.twilio_app import PERSON, attach
from tests.test_connection_lost import libpq_url
from tests.test_db_keepalives import keepalive_timer

#: Far longer than any wait below: only a notification can make the worker this quick.
POLL_SECONDS = 60.0
PROMPTLY = 5.0


@pytest.fixture
def other_process(
    pg_schema_url: str, tmp_path: Path, interpreter: Interpreter, clock: FakeClock
) -> Iterator[Services]:
    """Services of their own on the same database, as another server process has: nothing
    this process's worker registers with its own services reaches them."""
    yield from migrated_services(pg_schema_url, tmp_path / "other", interpreter, clock)


def wait_for(condition: Callable[[], bool], seconds: float = PROMPTLY) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def listeners(admin: psycopg.Connection) -> list[int]:
    rows = admin.execute(
        "SELECT pid FROM pg_stat_activity WHERE query = %s AND datname = current_database()",
        (f"LISTEN {CHANNEL}",),
    ).fetchall()
    return [int(row[0]) for row in rows]


def hello(services: Services, sid: str) -> InboundMessage:
    return InboundMessage("sms", PERSON, "hi", sid, services.clock())


#: The test's own worker's listening connections (other tests' may share the database).
Ours = Callable[[], set[int]]


def with_listening_worker(
    services: Services,
    url: str,
    scenario: Callable[[FakeTwilio, psycopg.Connection, Ours], None],
) -> None:
    """Run `scenario` (given the fake Twilio, an admin connection and the worker's listening
    backends) once a worker on `services`, sending through the fake, listens for jobs."""
    settings = load_outbox_settings(rate_per_second=0, poll_seconds=POLL_SECONDS)

    async def run(fake: FakeTwilio, admin: psycopg.Connection) -> None:
        others = set(listeners(admin))
        worker = BackgroundWorker(services, settings)
        await worker.start()

        def ours() -> set[int]:
            return set(listeners(admin)) - others

        try:
            assert await asyncio.to_thread(wait_for, lambda: bool(ours())), (
                "the worker never listened"
            )
            await asyncio.to_thread(scenario, fake, admin, ours)
        finally:
            await worker.stop()

    with running_fake() as fake, psycopg.connect(libpq_url(url), autocommit=True) as admin:
        attach(services, fake, "http://127.0.0.1:9")
        asyncio.run(run(fake, admin))


def test_a_reply_queued_by_another_process_goes_out_at_once(
    postgres_services: Services, other_process: Services, pg_schema_url: str
) -> None:
    def scenario(fake: FakeTwilio, _admin: psycopg.Connection, _ours: Ours) -> None:
        # The other process's receive() queues the replies for the outbox.
        receive(other_process, hello(other_process, "SM" + "1" * 32), reply_inline=False)
        assert wait_for(lambda: len(fake.delivered) == 2), delivered(fake)

    with_listening_worker(postgres_services, pg_schema_url, scenario)


def test_the_worker_listens_again_after_its_connection_is_cut(
    postgres_services: Services, other_process: Services, pg_schema_url: str
) -> None:
    def scenario(fake: FakeTwilio, admin: psycopg.Connection, ours: Ours) -> None:
        (cut,) = ours()
        admin.execute("SELECT pg_terminate_backend(%s)", (cut,))
        assert wait_for(lambda: bool(ours()) and cut not in ours())
        receive(other_process, hello(other_process, "SM" + "2" * 32), reply_inline=False)
        assert wait_for(lambda: len(fake.delivered) == 2), delivered(fake)

    with_listening_worker(postgres_services, pg_schema_url, scenario)


def test_the_kernel_probes_a_silent_listening_connection(
    postgres_services: Services, pg_schema_url: str
) -> None:
    """A database host that vanishes without closing the connection must not leave the
    worker listening to nothing: the kernel probes the silent connection within
    half a minute (libpq's default would be two hours) and closes it if unanswered."""

    def scenario(_fake: FakeTwilio, admin: psycopg.Connection, ours: Ours) -> None:
        (listening,) = ours()
        row = admin.execute(
            "SELECT client_port FROM pg_stat_activity WHERE pid = %s", (listening,)
        ).fetchone()
        assert row is not None and row[0] is not None, "the test database is reached by TCP"
        timer, seconds = keepalive_timer(int(row[0]))
        probe_after = int(PROBE_SILENT_CONNECTIONS["keepalives_idle"])
        assert timer == "keepalive" and 0 < seconds <= probe_after, (timer, seconds)

    with_listening_worker(postgres_services, pg_schema_url, scenario)


def delivered(fake: FakeTwilio) -> str:
    return (
        f"{len(fake.delivered)} texts delivered within {PROMPTLY} s (the poll is {POLL_SECONDS} s)"
    )

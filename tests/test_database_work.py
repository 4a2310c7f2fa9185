"""Where a webhook's database work runs: on the event loop when nothing can make it wait
there, else in the database thread, and always in the order the messages came."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time

import pytest

from bot.db import transaction
from bot.services import LazyInterpreter, Services
from tests.waiting_support import ServerInterpreter, background_holds_the_lock


@pytest.mark.parametrize(
    ("situation", "runs_on"),
    [
        ("nothing else going on", "event loop"),
        ("understanding waits on a server", "database thread"),
        ("the models are not built yet", "database thread"),
    ],
)
async def test_where_a_webhooks_work_runs(
    sqlite_services: Services, situation: str, runs_on: str
) -> None:
    if situation == "understanding waits on a server":
        sqlite_services.interpreter = ServerInterpreter(sqlite_services.interpreter)
    if situation == "the models are not built yet":
        built = sqlite_services.interpreter
        sqlite_services.interpreter = LazyInterpreter(lambda: built)
    ran_on = await sqlite_services.run_database_work(threading.get_ident)
    where = "event loop" if ran_on == threading.get_ident() else "database thread"
    assert where == runs_on


async def test_webhooks_wait_for_the_outboxs_work_without_holding_up_the_loop(
    sqlite_services: Services,
) -> None:
    order: list[str] = []

    def work(name: str) -> int:
        order.append(name)
        return threading.get_ident()

    with background_holds_the_lock(sqlite_services) as done:
        waiting = [
            asyncio.ensure_future(sqlite_services.run_database_work(work, name))
            for name in ("first", "second", "third")
        ]
        started = time.monotonic()
        await asyncio.sleep(0.05)  # the loop goes on while they wait
        assert time.monotonic() - started < 1
        assert order == []
        done.set()
        later = await sqlite_services.run_database_work(work, "later")
    threads = await asyncio.gather(*waiting)
    assert order == ["first", "second", "third", "later"]
    assert set(threads) == {later} == {threading.get_ident()}


async def test_a_later_message_never_overtakes_one_in_the_database_thread(
    sqlite_services: Services,
) -> None:
    order: list[str] = []
    gate = threading.Event()

    def first() -> None:
        gate.wait(5)
        order.append("first")

    local = sqlite_services.interpreter
    sqlite_services.interpreter = ServerInterpreter(local)
    earlier = asyncio.ensure_future(sqlite_services.run_database_work(first))
    await asyncio.sleep(0.01)  # in the database thread, understanding waiting on a server
    sqlite_services.interpreter = local
    later = asyncio.ensure_future(sqlite_services.run_database_work(order.append, "later"))
    await asyncio.sleep(0.01)
    gate.set()
    await asyncio.gather(earlier, later)
    assert order == ["first", "later"]


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_on_postgresql_work_always_runs_in_the_database_threads(
    services: Services,
) -> None:
    ran_on = await services.run_database_work(threading.get_ident)
    assert ran_on != threading.get_ident()


@pytest.mark.parametrize(
    ("situation", "at_once"),
    [
        ("nothing else going on", True),
        ("the outbox holds the writer lock", False),
        ("understanding waits on a server", False),
    ],
)
async def test_a_webhooks_turn_at_once(
    sqlite_services: Services, situation: str, at_once: bool
) -> None:
    """Twilio's webhook runs its work directly when it would not wait; otherwise it goes
    through `run_database_work`, whose queue and reply budget are for messages that wait."""
    if situation == "understanding waits on a server":
        sqlite_services.interpreter = ServerInterpreter(sqlite_services.interpreter)
    holds = (
        background_holds_the_lock(sqlite_services)
        if situation == "the outbox holds the writer lock"
        else contextlib.nullcontext()
    )
    with holds, sqlite_services.database_turn_at_once() as now:
        assert now is at_once


async def test_the_turn_at_once_holds_the_writer_lock_for_its_block(
    sqlite_services: Services,
) -> None:
    entered = threading.Event()

    def outbox_work() -> None:
        with transaction(sqlite_services.sessions, background=True):
            entered.set()

    with sqlite_services.database_turn_at_once() as now:
        assert now
        thread = threading.Thread(target=outbox_work)
        thread.start()
        assert not entered.wait(0.1)
    assert entered.wait(5)
    thread.join()


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_on_postgresql_there_is_no_turn_at_once(services: Services) -> None:
    with services.database_turn_at_once() as now:
        assert not now

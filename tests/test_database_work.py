"""Where a webhook's database work runs: on the event loop when nothing can make it wait
there, else in the database thread, and always in the order the messages came."""

from __future__ import annotations

import asyncio
import threading

import pytest

from bot.services import LazyInterpreter, Services
from tests.waiting_support import ServerInterpreter, background_holds_the_lock


@pytest.mark.parametrize(
    ("situation", "runs_on"),
    [
        ("nothing else going on", "event loop"),
        ("the outbox's work holds the writer lock", "database thread"),
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
    loop_thread = threading.get_ident()
    if situation == "the outbox's work holds the writer lock":
        with background_holds_the_lock(sqlite_services) as done:
            ran_on = asyncio.ensure_future(sqlite_services.run_database_work(threading.get_ident))
            await asyncio.sleep(0.05)
            assert ran_on.done()  # the loop did not wait for the lock; the thread did not
            done.set()  # need it: this work takes no lock
    else:
        ran_on = asyncio.ensure_future(sqlite_services.run_database_work(threading.get_ident))
    where = "event loop" if await ran_on == loop_thread else "database thread"
    assert where == runs_on


async def test_a_later_message_never_overtakes_one_waiting_in_the_database_thread(
    sqlite_services: Services,
) -> None:
    order: list[str] = []
    gate = threading.Event()

    def first() -> None:
        gate.wait(5)
        order.append("first")

    with background_holds_the_lock(sqlite_services):
        earlier = asyncio.ensure_future(sqlite_services.run_database_work(first))
        await asyncio.sleep(0.01)  # handed to the database thread, the lock being held
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

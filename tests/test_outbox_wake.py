"""A commit that queued outbox jobs wakes only the worker loops that run their kinds."""

from __future__ import annotations

from collections.abc import Collection

from bot.conversations import receive
from bot.db import transaction
from bot.messaging import add_job, jobs_queued
from bot.services import Services
from connectors.base import InboundMessage
from tests.outbox_support import queue_texts


def test_a_session_knows_the_kinds_of_job_it_queued(sqlite_services: Services) -> None:
    services = sqlite_services
    now = services.clock()
    with transaction(services.sessions) as session:
        assert jobs_queued(session) == frozenset()
        add_job(
            session, kind="timer", idempotency_key="t:1", due_at=now, created_at=now, payload={}
        )
        assert jobs_queued(session) == {"timer"}
        add_job(session, kind="send", idempotency_key="t:2", due_at=now, created_at=now, payload={})
        assert jobs_queued(session) == {"timer", "send"}
    with transaction(services.sessions) as session:
        assert jobs_queued(session) == frozenset()  # a new transaction starts with none


def test_receive_wakes_the_worker_with_what_it_queued(sqlite_services: Services) -> None:
    services = sqlite_services
    woken: list[frozenset[str]] = []

    def note(kinds: Collection[str]) -> None:
        woken.append(frozenset(kinds))

    services.on_queued.append(note)
    queue_texts(services, ["+12125550160"])  # not through receive(): no wake
    assert woken == []
    inbound = InboundMessage("sms", "+12125550161", "hi", "SM" + "2" * 32, services.clock())
    receive(services, inbound, reply_inline=False)  # its replies go through the outbox
    assert woken == [frozenset({"send"})]

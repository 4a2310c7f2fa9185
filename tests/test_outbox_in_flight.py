"""While the provider answers a send, no database lock is held: other people's messages are
answered at once, a STOP is stored at once and its confirmation goes after the message in
flight, and a second message to the same address waits its turn."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from sqlalchemy import select

from bot.config import ConfigError
from bot.conversations import ReceiveResult, receive
from bot.models import ChannelIdentity, OutboxJob
from bot.outbox import Worker, load_outbox_settings
from bot.outbox.claim import claim_jobs
from bot.services import Services
from connectors.base import InboundMessage
from tests.conftest import FakeClock
from tests.fakes.twilio_api import FakeTwilio, SentRequest, running_fake
from tests.fakes.twilio_app import attach
from tests.outbox_support import queue_texts, statuses

PERSON = "+12125550141"  # 555-01xx: fictional
SOMEONE_ELSE = "+12125550142"
STOPPED = "You are unsubscribed from Doorway Demo"
T = TypeVar("T")


@pytest.fixture
def fake(services: Services) -> Iterator[FakeTwilio]:
    with running_fake() as running:
        attach(services, running, "http://127.0.0.1:9")
        yield running


def worker(services: Services) -> Worker:
    return Worker(services, load_outbox_settings(rate_per_second=0))


def text(services: Services, address: str, body: str, sid: str) -> ReceiveResult:
    """A text as the Twilio webhook hands it over: replies ride in the response if they can."""
    inbound = InboundMessage(
        channel="sms", address=address, text=body, provider_id=sid, received_at=services.clock()
    )
    return receive(services, inbound, reply_inline=True)


def within(seconds: float, work: Callable[[], T]) -> T:
    """Run `work` in another thread; fail unless it finishes within `seconds` (it would wait
    forever on a lock held by the send it is called from)."""
    done: list[T] = []
    thread = threading.Thread(target=lambda: done.append(work()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert done, f"still waiting after {seconds} s: a lock is held during the send"
    return done[0]


def during_first_send(fake: FakeTwilio, action: Callable[[], None]) -> list[BaseException]:
    """Run `action` while the provider holds the first request; returns what it raised."""
    raised: list[BaseException] = []
    state = {"first": True}

    def hook(_request: SentRequest) -> None:
        if state["first"]:
            state["first"] = False
            try:
                action()
            except BaseException as exc:  # reported to the test, not to the fake's thread
                raised.append(exc)

    fake.on_request = hook
    return raised


async def test_another_persons_message_is_answered_while_a_send_is_with_the_provider(
    services: Services, fake: FakeTwilio
) -> None:
    queue_texts(services, [PERSON])
    answers: list[ReceiveResult] = []
    raised = during_first_send(
        fake, lambda: answers.append(within(5, lambda: text(services, SOMEONE_ELSE, "hi", "SM1")))
    )
    assert await worker(services).run_once() == 1
    assert raised == []
    [answer] = answers
    assert "Hi, this is Doorway Demo" in answer.in_response[0].text
    assert [r.body for r in fake.delivered] == ["text 0"]


async def test_a_stop_during_a_send_is_confirmed_after_it(
    services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    queue_texts(services, [PERSON])
    stops: list[ReceiveResult] = []
    raised = during_first_send(
        fake, lambda: stops.append(within(5, lambda: text(services, PERSON, "STOP", "SM1")))
    )
    outbox = worker(services)
    assert await outbox.run_once() == 1
    assert raised == []
    [stop] = stops
    # Stored at once, but not in the response: it would overtake the message in flight.
    assert stop.in_response == ()
    assert [STOPPED in r.text for r in stop.replies] == [True]
    with services.sessions() as session:
        person = session.scalars(select(ChannelIdentity)).one()
        assert person.opted_out and person.sending_until is None
    await outbox.run_once()
    assert [(r.body == "text 0", STOPPED in r.body) for r in fake.delivered] == [
        (True, False),
        (False, True),
    ]


async def test_a_stop_with_nothing_in_flight_is_confirmed_in_the_response(
    services: Services, fake: FakeTwilio
) -> None:
    stop = text(services, PERSON, "STOP", "SM1")
    assert [STOPPED in r.text for r in stop.in_response] == [True]
    assert await worker(services).run_once() == 0


async def test_a_second_message_to_a_busy_address_waits_for_the_first(
    services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    first, second = queue_texts(services, [PERSON, PERSON])
    settings = load_outbox_settings(rate_per_second=0)
    other = Worker(services, settings)
    outcomes: list[int] = []

    def other_worker_takes_the_second() -> None:
        outcomes.append(within(5, lambda: _run(other)))

    raised = during_first_send(fake, other_worker_takes_the_second)
    assert await Worker(services, settings).run_once(limit=1) == 1
    assert raised == []
    assert outcomes == [1]  # it took the job, saw the address busy and put it back
    assert statuses(services, [first, second]) == [("done", 1), ("pending", 0)]
    clock.advance(seconds=1)
    assert await other.run_once() == 1
    assert [r.body for r in fake.delivered] == ["text 0", "text 1"]


async def test_a_worker_that_died_mid_send_leaves_a_mark_that_lapses_before_its_lease(
    services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    [job_id] = queue_texts(services, [PERSON])
    settings = load_outbox_settings(rate_per_second=0)
    dead = Worker(services, settings)
    [claim] = claim_jobs(services, limit=1, lease_seconds=settings.lease_seconds)
    dead._check(claim)  # checked and marked busy; then the process died before sending
    with services.sessions() as session:
        person = session.scalars(select(ChannelIdentity)).one()
        assert person.sending_until is not None and person.sending_until > clock()
    clock.advance(seconds=settings.lease_seconds + 1)
    assert await worker(services).run_once() == 1
    assert [r.body for r in fake.delivered] == ["text 0"]
    with services.sessions() as session:
        job = session.get(OutboxJob, job_id)
        assert job is not None and (job.status, job.attempts) == ("done", 2)


def test_the_lease_outlasts_a_send_and_its_busy_mark() -> None:
    load_outbox_settings(lease_seconds=32, send_timeout_seconds=30)
    with pytest.raises(ConfigError, match="DOORWAY_OUTBOX_LEASE_SECONDS"):
        load_outbox_settings(lease_seconds=30, send_timeout_seconds=30)


def _run(outbox: Worker) -> int:
    """A round of a second worker, on a thread of its own (as in another process)."""
    return asyncio.run(outbox.run_once())

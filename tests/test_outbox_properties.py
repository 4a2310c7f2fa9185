"""Property: whatever the order of texts, STOP, START and scheduled sends, nothing ever
reaches the provider (the fake API) for an address that is opted out at that moment."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.conversations import receive
from bot.outbox import Worker, load_outbox_settings
from bot.services import Services
from connectors.base import InboundMessage
from tests.conftest import FakeClock
from tests.fakes.twilio_api import FakeTwilio, running_fake
from tests.fakes.twilio_app import attach, queue_scheduled

_numbers = itertools.count(1000)
_sids = itertools.count(1)

Op = tuple[str, int]
ops = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["text", "stop", "start", "work"]), st.just(0)),
        st.tuples(st.just("schedule"), st.integers(min_value=0, max_value=600)),
        st.tuples(st.just("advance"), st.integers(min_value=1, max_value=900)),
    ),
    min_size=1,
    max_size=14,
)
WORDS = ["hi", "1", "Sam", "yes", "tell me more", "2"]


@pytest.fixture
def fake(sqlite_services: Services) -> Iterator[FakeTwilio]:
    with running_fake() as running:
        attach(sqlite_services, running, "http://127.0.0.1:9")
        yield running


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=ops)
# The classic orders, always tried: queued after STOP, queued before STOP, STOP then START.
@example(steps=[("text", 0), ("stop", 0), ("schedule", 0), ("work", 0)])
@example(steps=[("text", 0), ("schedule", 30), ("stop", 0), ("advance", 60), ("work", 0)])
@example(steps=[("stop", 0), ("start", 0), ("schedule", 0), ("stop", 0), ("work", 0)])
# Found by the search: the fourth word, "yes", comes after STOP.
@example(steps=[("text", 0), ("text", 0), ("text", 0), ("stop", 0), ("text", 0)])
def test_no_send_ever_reaches_an_opted_out_address(
    steps: list[Op], sqlite_services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    services = sqlite_services
    address = f"+1212555{next(_numbers):04d}"  # a new person per example
    opted_out = False  # the model: what the person last asked for
    violations: list[str] = []

    def work() -> None:
        # Steps run one at a time, so the person's state is fixed during a worker round.
        before = len(fake.requests)
        asyncio.run(worker.run_once())
        if opted_out:
            violations.extend(r.body for r in fake.requests[before:] if r.to == address)

    worker = Worker(services, load_outbox_settings(rate_per_second=0))
    words = itertools.cycle(WORDS)

    def write(text: str, opt_out: str | None = None) -> None:
        inbound = InboundMessage(
            channel="sms",
            address=address,
            text=text,
            provider_id=f"SM{next(_sids):032x}",
            received_at=clock(),
            provider_opt_out=opt_out,  # Twilio's Advanced Opt-Out answers STOP/START
        )
        receive(services, inbound, reply_inline=False)

    started = False
    for kind, amount in steps:
        if kind == "text":
            word = next(words)
            write(word)
            started = True
            if opted_out and word == "yes":
                opted_out = False  # from someone opted out, YES re-subscribes (as carriers do)
        elif kind == "stop":
            write("STOP", "STOP")
            started, opted_out = True, True
        elif kind == "start":
            write("START", "START")
            started, opted_out = True, False
        elif kind == "schedule" and started:
            queue_scheduled(
                services, address, "Checking in.", clock() + dt.timedelta(minutes=amount)
            )
        elif kind == "advance":
            clock.advance(minutes=amount)
        elif kind == "work":
            work()
    clock.advance(days=2)
    for _ in range(3):
        work()
    assert violations == []

"""The in-process worker that `doorway serve` runs on SQLite: started and stopped with the app,
woken when something is queued."""

from __future__ import annotations

import datetime as dt
import time

from fastapi.testclient import TestClient

from bot.conversations import receive
from bot.models import OutboxJob
from bot.outbox import BackgroundWorker, load_outbox_settings, register_timer
from bot.services import Services
from bot.web.app import create_app
from connectors.base import InboundMessage
from tests.fakes.twilio_api import running_fake
from tests.fakes.twilio_app import PERSON, attach
from tests.outbox_support import queue_texts, queue_timer, statuses


def test_the_app_runs_the_worker_for_its_lifetime(sqlite_services: Services) -> None:
    services = sqlite_services
    with running_fake() as fake:
        connector = attach(services, fake, "http://127.0.0.1:9")
        # A long poll: only the wake-up can make this quick.
        worker = BackgroundWorker(
            services, load_outbox_settings(rate_per_second=0, poll_seconds=60)
        )
        with TestClient(create_app(services, [connector], worker=worker)):
            assert worker.wake in services.on_queued
            inbound = InboundMessage(
                channel="sms",
                address=PERSON,
                text="hi",
                provider_id="SM" + "1" * 32,
                received_at=services.clock(),
            )
            receive(services, inbound, reply_inline=False)  # it wakes the worker itself
            deadline = time.monotonic() + 10
            while len(fake.delivered) < 2 and time.monotonic() < deadline:
                time.sleep(0.02)
        assert len(fake.delivered) == 2
        assert worker.wake not in services.on_queued  # stopped with the app


fired_at: list[float] = []


def _note(services: Services, session: object, job: OutboxJob, now: dt.datetime) -> None:
    fired_at.append(time.monotonic())


register_timer("test.runner.note", _note)


def _wait_until(condition: object, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.01)


def test_a_timer_fires_while_paced_sends_wait_for_their_turn(sqlite_services: Services) -> None:
    services = sqlite_services
    fired_at.clear()
    with running_fake() as fake:
        connector = attach(services, fake, "http://127.0.0.1:9")
        # One text every two seconds: the second waits two seconds for its slot.
        worker = BackgroundWorker(
            services, load_outbox_settings(rate_per_second=0.5, poll_seconds=60)
        )
        with TestClient(create_app(services, [connector], worker=worker)):
            ids = queue_texts(services, [f"+12125550{n:03d}" for n in (150, 151, 152)])
            worker.wake()
            # The second text is claimed and waits for its slot.
            _wait_until(lambda: statuses(services, ids[1:2]) == [("running", 1)])
            queued = time.monotonic()
            queue_timer(services, "test.runner.note")  # say, a new handoff's routing
            worker.wake()
            _wait_until(lambda: bool(fired_at))
            assert fired_at, "the timer never fired"
            assert fired_at[0] - queued < 1.0  # not after the paced send
            assert len(fake.delivered) < 3


def test_a_backlog_larger_than_a_round_is_worked_through_without_waiting_for_the_poll(
    sqlite_services: Services,
) -> None:
    services = sqlite_services
    fired_at.clear()
    for _ in range(25):  # two and a half rounds of timers
        queue_timer(services, "test.runner.note")
        services.clock.advance(seconds=0.001)  # type: ignore[attr-defined]
    worker = BackgroundWorker(services, load_outbox_settings(batch_size=10, poll_seconds=60))
    with TestClient(create_app(services, [], worker=worker)):
        worker.wake()
        _wait_until(lambda: len(fired_at) >= 25)
    assert len(fired_at) == 25

"""The in-process worker that `doorway serve` runs on SQLite: started and stopped with the app,
woken when something is queued."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from bot.conversations import receive
from bot.outbox import BackgroundWorker, load_outbox_settings
from bot.services import Services
from bot.web.app import create_app
from connectors.base import InboundMessage
from tests.fakes.twilio_api import running_fake
from tests.fakes.twilio_app import PERSON, attach


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

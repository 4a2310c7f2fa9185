"""A whole conversation over signed webhooks to the live app, then STOP: nothing more is sent."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import xml.etree.ElementTree as ET

import httpx
import pytest
from sqlalchemy import select

from bot.models import Handoff, OutboxJob
from bot.outbox import load_outbox_settings, run_once
from bot.services import Services
from bot.web.app import create_app
from connectors.twilio_sms import INBOUND_PATH
from tests.conftest import FakeClock
from tests.fakes.twilio_api import AUTH_TOKEN, running_fake, sign
from tests.fakes.twilio_app import (
    PERSON,
    attach,
    free_socket,
    inbound_form,
    live_server,
    queue_scheduled,
)

CONVERSATION = ["hi", "1", "Sam", "yes", "call me", "Afternoon", "1"]


def replies(xml: str) -> list[str]:
    return [m.text or "" for m in ET.fromstring(xml).findall("Message")]


def test_conversation_handoff_then_stop_then_nothing_is_sent(
    services: Services, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with running_fake() as fake:
        connector = attach(services, fake, url)
        with live_server(create_app(services, [connector]), sock):

            def text(body: str, number: int, **extra: str) -> list[str]:
                form = inbound_form(body, f"SM{number:032x}", **extra)
                headers = {"X-Twilio-Signature": sign(AUTH_TOKEN, url + INBOUND_PATH, form)}
                response = httpx.post(url + INBOUND_PATH, data=form, headers=headers)
                assert response.status_code == 200, response.text
                return replies(response.text)

            answers = [text(body, n) for n, body in enumerate(CONVERSATION, start=1)]
            assert any("A peer recovery coach will reach out" in r for r in answers[-1])
            with services.sessions() as session:
                handoff = session.scalars(select(Handoff)).one()
                assert (handoff.status, handoff.contact_method) == ("requested", "call")

            # A follow-up is booked for tomorrow; then the person texts STOP.
            tomorrow = clock() + dt.timedelta(days=1)
            queue_scheduled(services, PERSON, "Hi Sam, checking in.", tomorrow)
            clock.advance(minutes=5)
            assert text("STOP", 99, OptOutType="STOP") == []
            # Even a text some component queues after the STOP must never leave.
            queue_scheduled(services, PERSON, "Hi Sam, one more thing.", tomorrow)

            clock.now = tomorrow + dt.timedelta(minutes=1)
            asyncio.run(run_once(services, settings=load_outbox_settings(rate_per_second=0)))
            assert fake.requests == []
            with services.sessions() as session:
                sends = select(OutboxJob).where(OutboxJob.kind == "send")
                statuses = {j.status for j in session.scalars(sends)}
            assert statuses == {"cancelled"}

    # Nothing personal reached the logs: no number, no name, no body, no token.
    for secret in (PERSON, "Sam", "call me", AUTH_TOKEN, "checking in"):
        assert secret not in caplog.text

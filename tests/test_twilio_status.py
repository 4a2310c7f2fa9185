"""Signed status callbacks from the fake Twilio to our live app, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from bot.conversations import receive
from bot.models import ChannelIdentity, Message, OutboxJob
from bot.outbox import load_outbox_settings, run_once
from bot.services import Services
from bot.web.app import create_app
from connectors.base import InboundMessage
from connectors.twilio_sms import STATUS_PATH
from tests.fakes.twilio_api import AUTH_TOKEN, FakeTwilio, new_sid, running_fake
from tests.fakes.twilio_app import PERSON, attach, free_socket, live_server


@dataclass
class Live:
    services: Services
    fake: FakeTwilio
    url: str


@pytest.fixture
def live(services: Services) -> Iterator[Live]:
    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with running_fake() as fake:
        connector = attach(services, fake, url)
        with live_server(create_app(services, [connector]), sock):
            yield Live(services, fake, url)


def send_two_replies(live: Live) -> list[str]:
    """A person writes; the two replies go out through the worker; returns their sids."""
    inbound = InboundMessage(
        channel="sms",
        address=PERSON,
        text="hi",
        provider_id="SM" + "0" * 32,
        received_at=live.services.clock(),
    )
    receive(live.services, inbound, reply_inline=False)
    asyncio.run(run_once(live.services, settings=load_outbox_settings(rate_per_second=0)))
    return [r.sid for r in live.fake.delivered if r.sid]


def stored(live: Live, sid: str) -> Message:
    with live.services.sessions() as session:
        message = session.scalar(select(Message).where(Message.provider_id == sid))
        assert message is not None
        return message


def person(live: Live) -> ChannelIdentity:
    with live.services.sessions() as session:
        return session.scalars(select(ChannelIdentity)).one()


def test_delivered_is_recorded(live: Live) -> None:
    sid, _ = send_two_replies(live)
    assert live.fake.fire_status(sid, "sent").status_code == 200
    assert live.fake.fire_status(sid, "delivered").status_code == 200
    assert (stored(live, sid).status, stored(live, sid).error_code) == ("delivered", None)


def test_a_late_sent_does_not_undo_delivered(live: Live) -> None:
    sid, _ = send_two_replies(live)
    live.fake.fire_status(sid, "delivered")
    live.fake.fire_status(sid, "sent")
    assert stored(live, sid).status == "delivered"


def test_failed_30006_marks_the_address_unreachable(live: Live) -> None:
    sid, _ = send_two_replies(live)
    assert live.fake.fire_status(sid, "failed", error_code="30006").status_code == 200
    assert (stored(live, sid).status, stored(live, sid).error_code) == ("failed", "30006")
    who = person(live)
    assert who.unreachable is True
    assert who.unreachable_reason == "30006 landline or no carrier route"


def test_a_filtered_message_does_not_condemn_the_address(live: Live) -> None:
    sid, _ = send_two_replies(live)
    live.fake.fire_status(sid, "undelivered", error_code="30007")
    assert stored(live, sid).status == "undelivered"
    assert person(live).unreachable is False


def test_unknown_sid_is_acknowledged_and_changes_nothing(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    send_two_replies(live)
    with live.services.sessions() as session:
        before = [(m.id, m.status) for m in session.scalars(select(Message).order_by(Message.id))]
        jobs_before = [(j.id, j.status) for j in session.scalars(select(OutboxJob))]
    caplog.set_level(logging.DEBUG)
    unknown = new_sid()
    url = live.url + STATUS_PATH
    response = live.fake.fire_status(unknown, "delivered", url=url)
    assert response.status_code == 200
    with live.services.sessions() as session:
        after = [(m.id, m.status) for m in session.scalars(select(Message).order_by(Message.id))]
        jobs_after = [(j.id, j.status) for j in session.scalars(select(OutboxJob))]
    assert (after, jobs_after) == (before, jobs_before)
    assert PERSON not in caplog.text
    assert AUTH_TOKEN not in caplog.text


@pytest.mark.parametrize("signature", ["missing", "wrong"])
def test_unsigned_status_is_refused(live: Live, signature: str) -> None:
    sid, _ = send_two_replies(live)
    url = live.url + STATUS_PATH
    if signature == "wrong":
        response = live.fake.fire_status(sid, "failed", error_code="30006", token="0" * 32)
    else:
        form = {"AccountSid": live.fake.account_sid, "MessageSid": sid, "MessageStatus": "failed"}
        response = httpx.post(url, data=form)
    assert response.status_code == 403
    assert stored(live, sid).status == "sent"
    assert person(live).unreachable is False

"""The inbound SMS webhook, table-driven from recorded Twilio payloads (tests/fixtures/twilio)."""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from twilio.twiml.messaging_response import MessagingResponse

from bot.models import ChannelIdentity, Contact, Message, OutboxJob
from bot.outbox import Worker, load_outbox_settings
from bot.services import Services
from bot.web.app import create_app
from connectors.base import OutboundMessage
from connectors.twilio_sms import INBOUND_PATH, TwilioSmsConnector
from tests.fakes.twilio_api import FakeTwilio, running_fake
from tests.fakes.twilio_app import PERSON, attach, fixture_form, inbound_form, signed_post
from tests.waiting_support import ServerInterpreter, background_holds_the_lock

PUBLIC_URL = "https://doorway.example.org"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with running_fake() as running:
        yield running


@pytest.fixture
def connector(sqlite_services: Services, fake: FakeTwilio) -> TwilioSmsConnector:
    return attach(sqlite_services, fake, PUBLIC_URL)


@pytest.fixture
def client(sqlite_services: Services, connector: TwilioSmsConnector) -> Iterator[TestClient]:
    with TestClient(create_app(sqlite_services, [connector]), base_url=PUBLIC_URL) as client:
        yield client


def count(services: Services, model: type) -> int:
    with services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def twiml_messages(text: str) -> list[str]:
    root = ET.fromstring(text)
    assert root.tag == "Response"
    return [element.text or "" for element in root.findall("Message")]


def inbound_rows(services: Services) -> list[Message]:
    with services.sessions() as session:
        return list(session.scalars(select(Message).where(Message.direction == "in")))


# --- the table ------------------------------------------------------------------------------

Check = Callable[[Services, list[str]], None]


def stored_nothing(services: Services, _replies: list[str]) -> None:
    assert count(services, Message) == 0
    assert count(services, Contact) == 0


def replied(fragment: str) -> Check:
    def check(services: Services, replies: list[str]) -> None:
        assert any(fragment in reply for reply in replies), replies
        assert len(inbound_rows(services)) == 1

    return check


def stored_body(expected: str) -> Check:
    def check(services: Services, replies: list[str]) -> None:
        assert replies
        [row] = inbound_rows(services)
        assert row.body == expected

    return check


def media_counted_not_fetched(services: Services, replies: list[str]) -> None:
    assert any("I can only read text messages" in reply for reply in replies)
    [row] = inbound_rows(services)
    assert row.body == ""
    assert row.meta == {"media": 1}  # a count: the URL is neither fetched nor kept


def opted_out_silently(services: Services, replies: list[str]) -> None:
    assert replies == []  # Twilio's Advanced Opt-Out already confirmed
    with services.sessions() as session:
        assert session.scalars(select(ChannelIdentity)).one().opted_out is True


@dataclass(frozen=True)
class Row:
    label: str
    fixture: str
    signature: str | None
    status: int
    check: Check
    repeat: int = 1


ROWS = [
    # a first message from a person: the welcome rides in the TwiML response
    Row("valid", "valid", "valid", 200, replied("Hi, this is Doorway Demo")),
    # signed over the URL with its port written out (":443"): Twilio's other form, accepted
    Row("signed with the port", "valid", "with_port", 200, replied("Hi, this is Doorway Demo")),
    # no X-Twilio-Signature at all: refused before anything is read or stored
    Row("unsigned", "valid", None, 403, stored_nothing),
    # signed with another token: refused
    Row("wrong signature", "valid", "wrong", 403, stored_nothing),
    # signed, but for another Twilio account: refused
    Row("wrong account", "wrong_account", "valid", 403, stored_nothing),
    # Twilio's retry of the same MessageSid: same reply, one stored message
    Row("duplicate", "valid", "valid", 200, replied("Hi, this is Doorway Demo"), repeat=2),
    # a picture without words: a kind reply that only text can be read
    Row("media only", "media_only", "valid", 200, media_counted_not_fetched),
    # an empty text: a gentle prompt
    Row("empty body", "empty_body", "valid", 200, replied("Write a few words")),
    # emoji survive storage untouched
    Row("emoji", "emoji", "valid", 200, stored_body("hi 🙏🏽 I need help")),
    # Spanish with accents survives storage untouched
    Row("spanish", "spanish", "valid", 200, stored_body(fixture_form("spanish")["Body"])),
    # over the route's cap: 413 before the signature is even computed
    Row("oversize", "oversize", "valid", 413, stored_nothing),
    # a From that is not a phone number: 400 with the reason
    Row("unparsable From", "unparsable_from", "valid", 400, stored_nothing),
    # STOP handled by Twilio's Advanced Opt-Out: recorded, no second confirmation
    Row("advanced opt-out STOP", "stop", "valid", 200, opted_out_silently),
]


@pytest.mark.parametrize("row", ROWS, ids=[row.label for row in ROWS])
def test_inbound_webhook(row: Row, client: TestClient, sqlite_services: Services) -> None:
    form = fixture_form(row.fixture)
    bodies = []
    for _ in range(row.repeat):
        response = signed_post(
            client, INBOUND_PATH, form, public_url=PUBLIC_URL, signature=row.signature
        )
        assert response.status_code == row.status, response.text
        bodies.append(response.text)
    assert len(set(bodies)) == 1  # a retry answers exactly as the first time
    replies = twiml_messages(bodies[0]) if row.status == 200 else []
    if row.status == 200:
        assert response.headers["content-type"].startswith("application/xml")
    else:
        assert "reason" in response.json()
    row.check(sqlite_services, replies)


def test_unparsable_from_says_why(client: TestClient) -> None:
    response = signed_post(
        client, INBOUND_PATH, fixture_form("unparsable_from"), public_url=PUBLIC_URL
    )
    assert response.status_code == 400
    assert response.json()["reason"].startswith("From: not a phone number")


def test_from_is_stored_in_e164(client: TestClient, sqlite_services: Services) -> None:
    form = inbound_form("hi", "SM" + "2a" * 16, sender="+1 (212) 555-0123")
    assert signed_post(client, INBOUND_PATH, form, public_url=PUBLIC_URL).status_code == 200
    with sqlite_services.sessions() as session:
        assert session.scalars(select(ChannelIdentity)).one().address == PERSON


def test_stop_without_advanced_opt_out_sends_our_one_confirmation(
    sqlite_services: Services, fake: FakeTwilio
) -> None:
    connector = attach(sqlite_services, fake, PUBLIC_URL, advanced_opt_out=False)
    app = create_app(sqlite_services, [connector])
    with TestClient(app, base_url=PUBLIC_URL) as client:
        response = signed_post(client, INBOUND_PATH, fixture_form("stop"), public_url=PUBLIC_URL)
    [reply] = twiml_messages(response.text)
    assert "You are unsubscribed from Doorway Demo" in reply


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)
@given(st.lists(st.text(max_size=1800), max_size=3))
def test_the_twiml_is_what_the_sdk_writes(connector: TwilioSmsConnector, texts: list[str]) -> None:
    """Written directly for speed: byte for byte the SDK's MessagingResponse, markup and
    ampersands escaped, long replies in several Messages, none at all an empty Response."""
    replies = [OutboundMessage(channel="sms", address=PERSON, text=text) for text in texts]
    expected = MessagingResponse()
    for reply in replies:
        for part in connector.parts(reply):
            expected.message(part)
    assert connector.twiml(replies) == str(expected)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=80)
@given(
    st.text(max_size=60).map(lambda path: PUBLIC_URL + "/" + path),
    st.dictionaries(st.text(max_size=20), st.text(max_size=80), max_size=25),
)
def test_the_signature_is_what_the_sdk_computes(
    connector: TwilioSmsConnector, url: str, form: dict[str, str]
) -> None:
    """Computed here for speed: equal to the SDK's for any URL and form, Unicode included."""
    assert connector.signature(url, form) == connector.validator.compute_signature(url, form)


def test_long_reply_is_split_at_word_boundaries(connector: TwilioSmsConnector) -> None:
    words = [f"word{n}" for n in range(400)]
    message = OutboundMessage(channel="sms", address=PERSON, text=" ".join(words))
    parts = twiml_messages(connector.twiml([message]))
    assert len(parts) == 2
    assert all(len(part) <= 1600 for part in parts)
    assert " ".join(parts).split() == words


def test_typographic_lookalikes_are_swapped_but_accents_kept(
    connector: TwilioSmsConnector,
) -> None:
    text = "It\u2019s ok \u2014 está bien\u2026"
    message = OutboundMessage(channel="sms", address=PERSON, text=text)
    assert connector.parts(message) == ["It's ok - está bien..."]


def test_inline_replies_store_their_segment_count(
    client: TestClient, sqlite_services: Services
) -> None:
    signed_post(client, INBOUND_PATH, fixture_form("valid"), public_url=PUBLIC_URL)
    with sqlite_services.sessions() as session:
        out = session.scalars(select(Message).where(Message.direction == "out")).all()
    assert out
    assert all(m.segments is not None and m.segments >= 1 for m in out)


@pytest.mark.parametrize("held_up_by", ["a busy database", "a slow understanding server"])
def test_a_slow_reply_goes_through_the_outbox_instead_of_being_lost(
    sqlite_services: Services, fake: FakeTwilio, held_up_by: str
) -> None:
    connector = attach(sqlite_services, fake, PUBLIC_URL, reply_budget_seconds=0.05)
    busy = background_holds_the_lock(sqlite_services) if held_up_by == "a busy database" else None
    if held_up_by == "a slow understanding server":
        sqlite_services.interpreter = ServerInterpreter(sqlite_services.interpreter, delay=0.5)
    with TestClient(create_app(sqlite_services, [connector]), base_url=PUBLIC_URL) as client:
        with busy or nullcontext() as done:
            if done is not None:
                threading.Timer(0.5, done.set).start()  # the outbox's work takes 0.5 s
            response = signed_post(
                client, INBOUND_PATH, fixture_form("valid"), public_url=PUBLIC_URL
            )
        assert response.status_code == 200
        assert twiml_messages(response.text) == []
        deadline = time.monotonic() + 10
        while count(sqlite_services, OutboxJob) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        worker = Worker(sqlite_services, load_outbox_settings(rate_per_second=0))
        handled = client.portal.call(worker.run_once)  # type: ignore[union-attr]
    assert handled >= 1
    assert fake.delivered
    assert "Hi, this is Doorway Demo" in fake.delivered[0].body
    assert fake.delivered[0].to == PERSON

"""`receive()` on SQLite and PostgreSQL: one transaction, dedupe, serialisation, events."""

from __future__ import annotations

import contextlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select, text

from bot.conversations import receive
from bot.models import ChannelIdentity, Contact, Conversation, Event, Message
from bot.services import Services
from connectors.base import InboundMessage
from tests.conftest import FakeClock


def inbound(text: str, provider_id: str | None, address: str = "+15555550123") -> InboundMessage:
    import datetime as dt

    return InboundMessage(
        channel="sms",
        address=address,
        text=text,
        provider_id=provider_id,
        received_at=dt.datetime.now(dt.UTC),
    )


def count(services: Services, model: type) -> int:
    with services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_first_message_creates_contact_conversation_and_events(services: Services) -> None:
    result = receive(services, inbound("I need some help please", "SM1"), reply_inline=True)
    assert len(result.replies) == 2  # the welcome and the first question, in English
    with services.sessions() as session:
        identity = session.scalars(select(ChannelIdentity)).one()
        assert identity.address == "+15555550123"
        # Written with the new identity, not by an UPDATE after it (retention reads it).
        assert identity.last_inbound_at == services.clock()
        conversation = session.scalars(select(Conversation)).one()
        assert conversation.step == "help_kind"
        kinds = [e.kind for e in session.scalars(select(Event).order_by(Event.id))]
    assert kinds[:2] == ["contact_created", "conversation_started"]
    assert count(services, Message) == 3


def test_same_provider_id_twice_gives_same_reply_one_message_one_change(services: Services) -> None:
    receive(services, inbound("hi", "SM1"), reply_inline=True)
    first = receive(services, inbound("1", "SM2"), reply_inline=True)
    messages_before = count(services, Message)
    events_before = count(services, Event)
    again = receive(services, inbound("1", "SM2"), reply_inline=True)
    assert again.duplicate is True
    assert [r.text for r in again.replies] == [r.text for r in first.replies]
    assert count(services, Message) == messages_before
    assert count(services, Event) == events_before
    with services.sessions() as session:
        assert session.scalars(select(Conversation)).one().step == "name"


def test_twenty_messages_at_once_from_one_address_stay_consistent(services: Services) -> None:
    receive(services, inbound("hi", "SM0"), reply_inline=True)
    barrier = threading.Barrier(20)

    def send(i: int) -> None:
        barrier.wait()
        receive(services, inbound(f"zz{i}", f"SMX{i}"), reply_inline=True)

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(send, range(20)))
    with services.sessions() as session:
        inbound_count = session.scalar(
            select(func.count()).select_from(Message).where(Message.direction == "in")
        )
        assert inbound_count == 21
        conversation = session.scalars(select(Conversation)).one()
        # every one of the 20 misses was counted: no update was lost to an interleaving
        assert conversation.misses == 20
        assert session.scalar(select(func.count()).select_from(Contact)) == 1


def test_first_messages_at_once_from_a_new_address_make_one_contact(services: Services) -> None:
    barrier = threading.Barrier(8)

    def send(i: int) -> None:
        barrier.wait()
        receive(services, inbound("hello", f"SMN{i}", address="+15555550199"), reply_inline=True)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(send, range(8)))
    assert count(services, Contact) == 1
    assert count(services, ChannelIdentity) == 1
    assert count(services, Conversation) == 1


def test_same_retry_at_once_is_stored_once(services: Services) -> None:
    receive(services, inbound("hi", "SM0"), reply_inline=True)
    barrier = threading.Barrier(6)

    def send(_: int) -> int:
        barrier.wait()
        return len(receive(services, inbound("2", "SMDUP"), reply_inline=True).replies)

    with ThreadPoolExecutor(max_workers=6) as pool:
        reply_counts = list(pool.map(send, range(6)))
    assert len(set(reply_counts)) == 1 and reply_counts[0] > 0
    with services.sessions() as session:
        stored = session.scalar(
            select(func.count()).select_from(Message).where(Message.provider_id == "SMDUP")
        )
        assert stored == 1
        steps = [e.data for e in session.scalars(select(Event).where(Event.kind == "step"))]
        assert steps == [
            {"from": "welcome", "to": "help_kind"},
            {"from": "help_kind", "to": "name"},
        ]


def test_personal_data_is_not_stored_in_clear(services: Services) -> None:
    receive(services, inbound("hi", "SM1", address="+15555550142"), reply_inline=True)
    receive(services, inbound("1", "SM2", address="+15555550142"), reply_inline=True)
    receive(services, inbound("Bartholomew", "SM3", address="+15555550142"), reply_inline=True)
    with services.engine.connect() as connection:
        dump = []
        for table in ("channel_identities", "messages", "conversations", "events", "contacts"):
            for row in connection.execute(text(f"SELECT * FROM {table}")):
                dump.append(json.dumps([str(v) for v in row]))
    blob = "\n".join(dump)
    assert "5555550142" not in blob
    assert "Bartholomew" not in blob
    assert "What kind of help" not in blob


def test_an_error_rolls_back_everything(services: Services, clock: FakeClock) -> None:
    receive(services, inbound("hi", "SM1"), reply_inline=True)
    before = (count(services, Message), count(services, Event))

    def broken(_text: str, _language: str) -> None:
        raise RuntimeError("boom")

    original = services.interpreter
    services.interpreter = type("Broken", (), {"parse": staticmethod(broken)})()
    try:
        with contextlib.suppress(RuntimeError):
            receive(services, inbound("1", "SM2"), reply_inline=True)
    finally:
        services.interpreter = original
    assert (count(services, Message), count(services, Event)) == before
    result = receive(services, inbound("1", "SM2"), reply_inline=True)
    assert result.duplicate is False

"""The one-statement sender lookup answers each question the way the separate queries did."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.db import transaction
from bot.events import record
from bot.identities import create_identity, find_or_create_identity
from bot.models import ChannelIdentity, FollowupEnrolment, Responder
from bot.orm_rows import mapped_columns
from bot.sender import Sender, load_sender, new_sender
from bot.services import Services
from tests.conversation_support import add_conversation

NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
PERSON = "+15550104477"


def _conversation(session: Session, identity: ChannelIdentity, status: str, ago: int) -> None:
    add_conversation(session, identity, status, NOW - dt.timedelta(days=ago))


def _enrolment(session: Session, identity: ChannelIdentity, status: str, sent_ago: int) -> None:
    session.add(
        FollowupEnrolment(
            contact_id=identity.contact_id,
            identity_id=identity.id,
            team="QRT North",
            pathway="qrt",
            language="en",
            event_at=NOW - dt.timedelta(days=60),
            consent_method="scene",
            consent_by="medic",
            source="cli",
            status=status,
            last_sent_at=NOW - dt.timedelta(days=sent_ago),
            created_at=NOW - dt.timedelta(days=60),
        )
    )


def _add_responder_with_this_number(session: Session, services: Services) -> None:
    session.add(
        Responder(
            name="jordan",
            display_name="Jordan",
            role="peer",
            sms_phone=PERSON,
            sms_index=services.vault.blind_index("sms", PERSON),
        )
    )


def _satisfaction(*kinds: str) -> Callable[[Session, ChannelIdentity], None]:
    def add(session: Session, identity: ChannelIdentity) -> None:
        for kind in kinds:
            record(session, kind, NOW - dt.timedelta(hours=1), contact_id=identity.contact_id)
            session.flush()

    return add


def _ended_then_closed(session: Session, identity: ChannelIdentity) -> None:
    _conversation(session, identity, "ended", 3)
    _conversation(session, identity, "closed", 1)


Setup = Callable[[Session, ChannelIdentity], None]
CASES: list[tuple[str, Setup | str, dict[str, object]]] = [
    ("nothing yet", lambda s, i: None, {"conversation": None, "checkin": False, "asked": False}),
    (
        "the newest conversation, whatever its status",
        _ended_then_closed,
        {"conversation": "closed"},
    ),
    ("a check-in sent last week", lambda s, i: _enrolment(s, i, "active", 7), {"checkin": True}),
    (
        "a check-in sent 50 days ago",
        lambda s, i: _enrolment(s, i, "active", 50),
        {"checkin": False},
    ),
    ("a stopped enrolment", lambda s, i: _enrolment(s, i, "stopped", 1), {"checkin": False}),
    ("a satisfaction question pending", _satisfaction("satisfaction_asked"), {"asked": True}),
    (
        "a satisfaction question answered",
        _satisfaction("satisfaction_asked", "satisfaction"),
        {"asked": False},
    ),
    ("the address is a responder's", "responder", {"responder": True}),
]


@pytest.mark.parametrize(("situation", "setup", "expected"), CASES, ids=[c[0] for c in CASES])
def test_the_sender_lookup(
    services: Services, situation: str, setup: Setup | str, expected: dict[str, object]
) -> None:
    with transaction(services.sessions) as session:
        identity = find_or_create_identity(session, services.vault, "sms", PERSON, NOW)
        if setup == "responder":
            _add_responder_with_this_number(session, services)
        else:
            assert callable(setup)
            setup(session, identity)
    with transaction(services.sessions) as session:
        sender = load_sender(session, services.vault, "sms", PERSON, NOW)
        assert isinstance(sender, Sender)
        assert sender.identity.address == PERSON
        assert sender.contact.id == sender.identity.contact_id
        if "conversation" in expected:
            latest = sender.latest_conversation
            assert (latest.status if latest else None) == expected["conversation"]
        if "checkin" in expected:
            assert sender.checkin_sent is expected["checkin"]
        if "asked" in expected:
            assert sender.satisfaction_asked is expected["asked"]
        assert (sender.responder_id is not None) is bool(expected.get("responder", False))


def test_an_unknown_address_has_no_sender(services: Services) -> None:
    with transaction(services.sessions) as session:
        assert load_sender(session, services.vault, "sms", PERSON, NOW) is None
        assert load_sender(session, services.vault, "telegram", "12345", NOW) is None


@pytest.mark.parametrize(
    ("channel", "address", "responders_own"),
    [
        ("sms", PERSON, False),
        ("sms", PERSON, True),
        ("telegram", "424242", False),
        ("web", "chat-7f3a", False),
    ],
)
def test_a_first_message_sender_matches_the_lookup(
    services: Services, channel: str, address: str, responders_own: bool
) -> None:
    """A first message builds its sender from the rows it just stored instead of reading
    them back: the answers must be the lookup's own."""
    with transaction(services.sessions) as session:
        if responders_own:
            _add_responder_with_this_number(session, services)
            session.flush()
        identity, created = create_identity(
            session, services.vault, channel, address, NOW, inbound_at=NOW
        )
        assert created
        made = new_sender(session, identity)
        read = load_sender(session, services.vault, channel, address, NOW)
        assert read is not None
        assert made == read
        assert (made.responder_id is not None) is responders_own


def test_an_address_stored_meanwhile_is_found_not_duplicated(services: Services) -> None:
    """Two first messages from one address: the second transaction did not find it, then
    stores it. On PostgreSQL the other transaction may have committed it in between, so the
    stored identity comes back (`created` False) and the transaction goes on. On SQLite it
    cannot have: every transaction holds the write lock from its start, so nothing is caught
    and the duplicate is an error, as it would be for any other unexpected one."""
    with transaction(services.sessions) as session:
        first, created = create_identity(session, services.vault, "sms", PERSON, NOW)
        assert created
    stored = first.id
    if services.engine.dialect.name == "sqlite":
        with pytest.raises(IntegrityError), transaction(services.sessions) as session:
            create_identity(session, services.vault, "sms", PERSON, NOW)
        return
    with transaction(services.sessions) as session:
        again, created = create_identity(session, services.vault, "sms", PERSON, NOW)
        assert (again.id, created) == (stored, False)
        record(session, "still_usable", NOW, contact_id=again.contact_id)
    with transaction(services.sessions) as session:
        count = session.scalar(select(func.count()).select_from(ChannelIdentity))
    assert count == 1


def test_the_senders_objects_hold_what_the_orm_loads(services: Services) -> None:
    """The lookup reads its row on the driver's cursor; every column of the identity, the
    contact and the conversation must read as an ORM load in a fresh session reads it."""
    with transaction(services.sessions) as session:
        identity = find_or_create_identity(session, services.vault, "sms", PERSON, NOW)
        identity.last_inbound_at = NOW
        identity.contact.language = "es"
        identity.contact.display_name = "Río"
        conversation = add_conversation(session, identity, "active", NOW)
        conversation.slots = '{"name": "Río"}'
    with transaction(services.sessions) as session:
        sender = load_sender(session, services.vault, "sms", PERSON, NOW)
        assert sender is not None and sender.latest_conversation is not None
        read: list[Any] = [sender.identity, sender.contact, sender.latest_conversation]
    with services.read_sessions() as session:
        for obj in read:
            loaded = session.get(type(obj), obj.id)
            for name, _ in mapped_columns(type(obj)):
                assert getattr(obj, name) == getattr(loaded, name), name

"""`bot.orm_rows`: an object made from a row read on the driver's cursor behaves as one the
session loaded: clean, its changes stored, its relationships found without a query, and one
object per row in a session."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import bindparam, event, inspect, literal, select, update
from sqlalchemy.orm import Session

from bot.db import transaction
from bot.identities import create_identity
from bot.models import ChannelIdentity, Contact, Conversation
from bot.orm_rows import attach, attach_row, columns_of, insert_object, mapped_columns
from bot.prepared import fetch_one
from bot.sender import load_sender
from bot.services import Services

NOW = dt.datetime(2026, 12, 7, 11, 0, tzinfo=dt.UTC)
PERSON = "+15550104477"


def stored_identity(services: Services) -> int:
    with transaction(services.sessions) as session:
        identity, _ = create_identity(session, services.vault, "sms", PERSON, NOW, inbound_at=NOW)
        return identity.id


def row_of(session: Session, model: type[Any], row_id: int) -> dict[str, Any]:
    """Every mapped column of a row, as Core reads it (not through the session)."""
    columns = mapped_columns(model)
    selected = session.connection().execute(
        select(*(column for _, column in columns)).where(model.id == row_id)
    )
    return dict(zip((name for name, _ in columns), selected.one(), strict=True))


@contextmanager
def statements(services: Services) -> Iterator[list[str]]:
    """The SQL sent to the database meanwhile."""
    sent: list[str] = []

    def note(*args: Any) -> None:
        sent.append(args[2])

    event.listen(services.engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(services.engine, "before_cursor_execute", note)


def test_an_attached_object_is_clean_and_reads_its_row(services: Services) -> None:
    identity_id = stored_identity(services)
    with transaction(services.sessions) as session:
        values = row_of(session, ChannelIdentity, identity_id)
        identity = attach(session, ChannelIdentity, values, refresh=False)
        state = inspect(identity)
        assert state.persistent and not session.dirty and not session.new
        assert identity.address == PERSON and identity.last_inbound_at == NOW
        assert session.get(ChannelIdentity, identity_id) is identity


def test_a_change_to_an_attached_object_is_stored(services: Services) -> None:
    identity_id = stored_identity(services)
    with transaction(services.sessions) as session:
        identity = attach(
            session, ChannelIdentity, row_of(session, ChannelIdentity, identity_id), refresh=False
        )
        identity.opted_out = True
        identity.opted_out_at = NOW
    with services.read_sessions() as session:
        stored = session.get(ChannelIdentity, identity_id)
        assert stored is not None
        assert (stored.opted_out, stored.opted_out_at) == (True, NOW)


def test_a_relationship_to_an_attached_object_needs_no_query(services: Services) -> None:
    identity_id = stored_identity(services)
    with transaction(services.sessions) as session:
        identity = attach(
            session, ChannelIdentity, row_of(session, ChannelIdentity, identity_id), refresh=False
        )
        contact_values = row_of(session, Contact, identity.contact_id)
        with statements(services) as before_contact:
            assert identity.contact.id == identity.contact_id
        assert len(before_contact) == 1  # not in the session yet: loaded, as the ORM would
    with transaction(services.sessions) as session:
        identity = attach(
            session, ChannelIdentity, row_of(session, ChannelIdentity, identity_id), refresh=False
        )
        contact = attach(session, Contact, contact_values, refresh=False)
        with statements(services) as sent:
            assert identity.contact is contact
        assert sent == []


@pytest.mark.parametrize("refresh", [False, True])
def test_the_sessions_own_object_is_kept(services: Services, refresh: bool) -> None:
    """One object per row: the one the session holds. `refresh` overwrites it with the row
    read (what another transaction committed), as `populate_existing` would."""
    identity_id = stored_identity(services)
    with transaction(services.sessions) as session:
        held = session.get(ChannelIdentity, identity_id)
        assert held is not None
        values = {**row_of(session, ChannelIdentity, identity_id), "opted_out": True}
        got = attach(session, ChannelIdentity, values, refresh=refresh)
        assert got is held
        assert held.opted_out is refresh
        assert not session.dirty  # what it holds now is what is stored, or was read


def test_the_sender_reads_what_a_concurrent_message_committed(services: Services) -> None:
    """PostgreSQL: a transaction that already holds the identity, then takes the contact's
    lock, sees what another transaction committed meanwhile (here, an opt-out)."""
    if services.engine.dialect.name == "sqlite":
        pytest.skip("SQLite's transaction holds the write lock from its start")
    identity_id = stored_identity(services)
    with transaction(services.sessions) as session:
        held = session.get(ChannelIdentity, identity_id)
        assert held is not None and held.opted_out is False
        with services.engine.begin() as other:
            other.execute(
                update(ChannelIdentity)
                .where(ChannelIdentity.id == identity_id)
                .values(opted_out=True, opted_out_at=NOW)
            )
        sender = load_sender(session, services.vault, "sms", PERSON, NOW)
        assert sender is not None and sender.identity is held
        assert (held.opted_out, held.opted_out_at) == (True, NOW)


def test_a_row_of_several_objects(services: Services) -> None:
    """Each model's columns in turn, then the rest of the row; an outer join that found
    nothing gives None, not an empty object."""
    identity_id = stored_identity(services)
    statement = (
        select(*columns_of(ChannelIdentity, Contact, Conversation), literal(7).label("extra"))
        .join(Contact, Contact.id == ChannelIdentity.contact_id)
        .outerjoin(Conversation, Conversation.identity_id == ChannelIdentity.id)
        .where(ChannelIdentity.id == bindparam("identity"))
    )
    with transaction(services.sessions) as session:
        row = fetch_one(session, statement, {"identity": identity_id})
        assert row is not None
        (identity, contact, conversation), rest = attach_row(
            session, (ChannelIdentity, Contact, Conversation), row, refresh=False
        )
        assert isinstance(identity, ChannelIdentity) and isinstance(contact, Contact)
        assert identity.contact is contact and identity.address == PERSON
        assert conversation is None
        assert rest == (7,)


def test_a_row_just_inserted_is_the_sessions_object(services: Services) -> None:
    """What a new contact's first message makes: the object reads as an ORM load of its row
    (columns not given are NULL), and a change to it is stored."""
    with transaction(services.sessions) as session:
        contact_row = {"created_at": NOW, "language": "es"}
        contact = insert_object(session, Contact, contact_row)
        assert inspect(contact).persistent and not session.dirty
        assert (contact.language, contact.display_name, contact.responder_id) == ("es", None, None)
        contact.display_name = "Río"
        contact_id = contact.id
    with services.read_sessions() as session:
        stored = session.get(Contact, contact_id)
        assert stored is not None
        assert (stored.created_at, stored.language, stored.display_name) == (NOW, "es", "Río")


def test_a_read_on_the_cursor_sees_the_sessions_pending_changes(services: Services) -> None:
    """As an ORM query would: pending changes are flushed first, unless autoflush is off."""
    identity_id = stored_identity(services)
    statement = select(ChannelIdentity.opted_out).where(ChannelIdentity.id == bindparam("id"))
    with transaction(services.sessions) as session:
        identity = session.get(ChannelIdentity, identity_id)
        assert identity is not None
        identity.opted_out = True
        with session.no_autoflush:
            assert fetch_one(session, statement, {"id": identity_id}) == (False,)
        assert fetch_one(session, statement, {"id": identity_id}) == (True,)


def test_a_new_address_holds_its_contact(services: Services) -> None:
    """The session holds its objects weakly: the new identity must hold its new contact, as a
    flush would leave it, or reading it later costs a query."""
    with transaction(services.sessions) as session:
        identity, created = create_identity(session, services.vault, "sms", PERSON, NOW)
        assert created
        gc.collect()
        with statements(services) as sent:
            assert identity.contact.id == identity.contact_id
        assert sent == []

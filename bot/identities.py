"""Find or create the contact behind an address, and lock it for one transaction."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot.crypto import Vault
from bot.events import record
from bot.models import ChannelIdentity, Contact
from bot.orm_rows import inserted
from bot.prepared import insert_row


def address_index(vault: Vault, channel: str, address: str) -> str:
    return vault.blind_index(channel, address)


def find_identity(
    session: Session, vault: Vault, channel: str, address: str
) -> ChannelIdentity | None:
    return session.scalar(
        select(ChannelIdentity).where(
            ChannelIdentity.channel == channel,
            ChannelIdentity.address_index == address_index(vault, channel, address),
        )
    )


def find_or_create_identity(
    session: Session, vault: Vault, channel: str, address: str, now: dt.datetime
) -> ChannelIdentity:
    """The identity for an address; two first messages at once still make only one."""
    found = find_identity(session, vault, channel, address)
    if found is not None:
        return found
    identity, _created = create_identity(session, vault, channel, address, now)
    return identity


def create_identity(
    session: Session,
    vault: Vault,
    channel: str,
    address: str,
    now: dt.datetime,
    *,
    inbound_at: dt.datetime | None = None,
) -> tuple[ChannelIdentity, bool]:
    """A new contact and identity for an address this transaction did not find, and True;
    or, if another transaction stored the address meanwhile (PostgreSQL), that identity and
    False. `inbound_at`: the address's first message, when that is what created it (saves an
    UPDATE right after)."""
    if session.get_bind().dialect.name == "sqlite":
        # The transaction has held SQLite's write lock since it began (BEGIN IMMEDIATE): an
        # address the caller did not find cannot be stored meanwhile, so no savepoint (per
        # first message it cost about 2 % of the webhook path's instructions).
        return _insert_identity(session, vault, channel, address, now, inbound_at), True
    try:
        with session.begin_nested():
            return _insert_identity(session, vault, channel, address, now, inbound_at), True
    except IntegrityError:
        found = find_identity(session, vault, channel, address)
        if found is None:
            raise
        return found, False


def _insert_identity(
    session: Session,
    vault: Vault,
    channel: str,
    address: str,
    now: dt.datetime,
    inbound_at: dt.datetime | None,
) -> ChannelIdentity:
    contact_row = {"created_at": now}
    contact_id = insert_row(session, Contact, contact_row)
    identity_row = {
        "contact_id": contact_id,
        "channel": channel,
        "address_index": address_index(vault, channel, address),
        "address": address,
        "opted_out": False,
        "unreachable": False,
        "created_at": now,
        "last_inbound_at": inbound_at,
    }
    identity_id = insert_row(session, ChannelIdentity, identity_row)
    # Into the session once both are stored: a duplicate address fails before either is.
    contact = inserted(session, Contact, contact_id, contact_row)
    identity = inserted(session, ChannelIdentity, identity_id, identity_row)
    # As a flush would leave it: the identity holds its contact (the session's map is weak).
    set_committed_value(identity, "contact", contact)
    record(session, "contact_created", now, contact_id=contact_id, channel=channel)
    return identity


def lock_contact(session: Session, contact_id: int) -> Contact:
    """Serialise everything done for one person: a row lock on PostgreSQL; on SQLite the
    write transaction (BEGIN IMMEDIATE) already serialises."""
    contact = session.scalar(select(Contact).where(Contact.id == contact_id).with_for_update())
    assert contact is not None
    return contact

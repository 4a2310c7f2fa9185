"""Who wrote a message, read in one statement: the hot path of every inbound message.

Each question `receive()` asks about a sender (their identity and contact, the conversation a
message continues, whether the address is a responder's, whether a check-in or a satisfaction
question is waiting for an answer) used to be its own query. Through the ORM each cost about
as much CPU as the dialogue step; together they were most of a message. Here they are one
SELECT with correlated subqueries, every one of them on an index, run on the driver's cursor
(`bot.prepared.fetch_one`); its row becomes the session's objects through `bot.orm_rows`.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, exists, func, select
from sqlalchemy.orm import Session

from bot.crypto import Vault
from bot.followup.replies import REPLY_WINDOW
from bot.followup.stops import STOPPABLE
from bot.identities import address_index
from bot.models import (
    ChannelIdentity,
    Contact,
    Conversation,
    Event,
    FollowupEnrolment,
    Responder,
)
from bot.orm_rows import attach_row, columns_of
from bot.prepared import fetch_one
from bot.sql_words import inline_words

#: Which responder column holds the blind index of an address on each channel.
RESPONDER_INDEX = {"telegram": Responder.telegram_index, "sms": Responder.sms_index}
#: The events that open and close the question asked after a completed handoff.
SATISFACTION_KINDS = ("satisfaction_asked", "satisfaction", "satisfaction_skipped")


@dataclass
class Sender:
    """The sender of one message, as of the start of its transaction (under the contact's lock)."""

    identity: ChannelIdentity
    contact: Contact
    #: The contact's newest conversation, whatever its status (see `continued_conversation`).
    latest_conversation: Conversation | None
    #: The responder this address belongs to, if it is a responder's own channel.
    responder_id: int | None
    #: A check-in went out within the reply window to an enrolment a reply can still stop.
    checkin_sent: bool
    #: The newest satisfaction event is the question: the next message may answer it.
    satisfaction_asked: bool


def load_sender(
    session: Session, vault: Vault, channel: str, address: str, now: dt.datetime
) -> Sender | None:
    """The sender behind an address, with their contact locked; None for a new address.

    On SQLite the transaction already holds the write lock (BEGIN IMMEDIATE), so one statement
    reads everything. On PostgreSQL a first statement finds and locks the contact's row, and
    the second runs after it, so it sees whatever a concurrent message for the same person
    committed.
    """
    params = {"index": address_index(vault, channel, address), "sent_after": now - REPLY_WINDOW}
    # On PostgreSQL the row overwrites what the session may hold (what a concurrent message
    # committed before the lock was granted); SQLite's cannot have changed meanwhile.
    refresh = session.get_bind().dialect.name != "sqlite"
    if refresh and fetch_one(session, _lock_contact_of(channel), params) is None:
        return None
    row = fetch_one(session, _sender_statement(channel), params)
    if row is None:
        return None
    objects, rest = attach_row(session, SENDER_MODELS, row, refresh=refresh)
    identity, contact, latest = objects  # the conversation is None when there is none yet
    assert isinstance(identity, ChannelIdentity) and isinstance(contact, Contact)
    assert latest is None or isinstance(latest, Conversation)
    responder_id, checkin_sent, satisfaction_kind = rest
    return Sender(
        identity=identity,
        contact=contact,
        latest_conversation=latest,
        responder_id=responder_id,
        checkin_sent=bool(checkin_sent),
        satisfaction_asked=satisfaction_kind == "satisfaction_asked",
    )


def new_sender(session: Session, identity: ChannelIdentity) -> Sender:
    """The sender behind an address this transaction has just stored, without reading it all
    back: a new contact has no conversation, check-in or question yet. Only whether the
    address is a responder's own is looked up (tests hold this to `load_sender`)."""
    statement = _responder_by_index(identity.channel)
    row = (
        fetch_one(session, statement, {"index": identity.address_index})
        if statement is not None
        else None
    )
    return Sender(
        identity=identity,
        contact=identity.contact,
        latest_conversation=None,
        responder_id=row[0] if row else None,
        checkin_sent=False,
        satisfaction_asked=False,
    )


@functools.cache
def _responder_by_index(channel: str) -> Select[int] | None:
    """The responder whose own address on this channel has this blind index (built once)."""
    column = RESPONDER_INDEX.get(channel)
    if column is None:
        return None
    return select(Responder.id).where(column == bindparam("index")).limit(1)


@functools.cache
def _lock_contact_of(channel: str) -> Select[int]:
    """The contact behind an address, locked for this transaction (PostgreSQL). Built once,
    like the statements below: SQLAlchemy computes the cache key of a statement it has not
    seen by walking it, which for these cost the server on PostgreSQL a tenth of its CPU."""
    return (
        select(Contact.id)
        .join(ChannelIdentity, ChannelIdentity.contact_id == Contact.id)
        .where(
            ChannelIdentity.channel == channel,
            ChannelIdentity.address_index == bindparam("index"),
        )
        .with_for_update(of=Contact)
    )


#: The objects the sender's row holds, in its order.
SENDER_MODELS = (ChannelIdentity, Contact, Conversation)


@functools.cache
def _sender_statement(channel: str) -> Select[Any]:
    """Built once per channel (building it costs more CPU than SQLite takes to run it)."""
    latest_conversation = (
        select(Conversation.id)
        .where(Conversation.contact_id == Contact.id)
        .order_by(Conversation.id.desc())
        .limit(1)
        .correlate(Contact)
        .scalar_subquery()
    )
    responder_column = RESPONDER_INDEX.get(channel)
    responder_id: Any = (
        func.coalesce(
            Contact.responder_id,
            select(Responder.id)
            .where(responder_column == ChannelIdentity.address_index)
            .limit(1)
            .correlate(ChannelIdentity)
            .scalar_subquery(),
        )
        if responder_column is not None
        else Contact.responder_id
    )
    checkin_sent = (
        exists()
        .where(
            FollowupEnrolment.contact_id == Contact.id,
            FollowupEnrolment.status.in_(inline_words(STOPPABLE)),
            FollowupEnrolment.last_sent_at > bindparam("sent_after"),
        )
        .correlate(Contact)
    )
    satisfaction_kind = (
        select(Event.kind)
        .where(Event.contact_id == Contact.id, Event.kind.in_(inline_words(SATISFACTION_KINDS)))
        .order_by(Event.id.desc())
        .limit(1)
        .correlate(Contact)
        .scalar_subquery()
    )
    return (
        select(
            *columns_of(*SENDER_MODELS),
            responder_id.label("responder_id"),
            checkin_sent.label("checkin_sent"),
            satisfaction_kind.label("satisfaction_kind"),
        )
        .join(Contact, Contact.id == ChannelIdentity.contact_id)
        .outerjoin(Conversation, Conversation.id == latest_conversation)
        .where(
            ChannelIdentity.channel == channel, ChannelIdentity.address_index == bindparam("index")
        )
    )


def continued_conversation(
    latest: Conversation | None, now: dt.datetime, resume_ended_within: dt.timedelta
) -> Conversation | None:
    """The conversation a new message continues: active, or ended recently (the runtime then
    answers honestly that the request is with the team). One closed by an opt-out never is."""
    if latest is None or latest.status == "closed":
        return None
    if latest.status == "ended" and now - latest.updated_at > resume_ended_within:
        return None
    return latest


__all__ = ["Sender", "continued_conversation", "load_sender", "new_sender"]

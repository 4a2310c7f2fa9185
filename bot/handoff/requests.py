"""Create and update handoff requests: one open request per person, urgency only rises."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from bot.dialogue.effects import RequestHandoff
from bot.events import record
from bot.models import Consent, Conversation, Handoff
from bot.orm_rows import attach_row, columns_of, insert_object
from bot.prepared import fetch_one
from bot.sql_words import inline_words

OPEN_STATUSES = ("requested", "offered", "accepted", "connected")
_URGENCY_RANK = {"routine": 0, "scheduled": 1, "today": 2, "urgent": 3, "crisis": 4}
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed by SMS

# Built once: a handoff request runs all three, and building a statement costs about what
# SQLite takes to run it.
_CODE_TAKEN: Select[int] = select(Handoff.id).where(Handoff.code == bindparam("code"))
_OPEN_HANDOFF: Select[Any] = (
    select(*columns_of(Handoff))
    .where(
        Handoff.contact_id == bindparam("contact_id"),
        Handoff.status.in_(inline_words(OPEN_STATUSES)),
    )
    .order_by(Handoff.id.desc())
    .limit(1)
)
_LATEST_CONSENT: Select[Consent] = (
    select(Consent)
    .where(Consent.contact_id == bindparam("contact_id"))
    .order_by(Consent.id.desc())
    .limit(1)
)


#: Codes are 4 characters (32^4, about a million) until that space is crowded, then longer.
CODE_LENGTHS = (4, 5, 6)
_TRIES_PER_LENGTH = 8


@dataclass(frozen=True)
class ConsentAnswer:
    """An answer to the consent question, stored in the current transaction."""

    consent_id: int
    granted: bool


def new_code(session: Session, choose: Callable[[str], str] = secrets.choice) -> str:
    """A short code a coach can type back (`A K3F7`), never one already given."""
    for length in CODE_LENGTHS:
        for _ in range(_TRIES_PER_LENGTH):
            code = "".join(choose(_CODE_ALPHABET) for _ in range(length))
            if fetch_one(session, _CODE_TAKEN, {"code": code}) is None:
                return code
    raise RuntimeError("no free handoff code: the code space is exhausted")


def open_handoff(session: Session, contact_id: int) -> Handoff | None:
    """The person's open request, if any (read on the driver's cursor: it runs for each
    message in a relay and each request)."""
    row = fetch_one(session, _OPEN_HANDOFF, {"contact_id": contact_id})
    if row is None:
        return None
    (handoff,), _ = attach_row(session, (Handoff,), row, refresh=False)
    assert isinstance(handoff, Handoff)
    return handoff


def latest_consent(session: Session, contact_id: int) -> Consent | None:
    return session.scalar(_LATEST_CONSENT, {"contact_id": contact_id})


def _granted_consent(
    session: Session, contact_id: int, given_now: ConsentAnswer | None
) -> int | None:
    """The consent a new request rests on: this message's answer, else the newest stored one,
    if it grants and is not withdrawn."""
    if given_now is not None:
        return given_now.consent_id if given_now.granted else None
    consent = latest_consent(session, contact_id)
    return consent.id if consent and consent.granted and not consent.withdrawn_at else None


def request_handoff(
    session: Session,
    conversation: Conversation,
    request: RequestHandoff,
    now: dt.datetime,
    *,
    channel: str,
    consent_given_now: ConsentAnswer | None = None,
) -> Handoff:
    """Store the request, or raise the urgency of the one already open for this person.

    `consent_given_now`: the answer to the consent question stored in this same transaction
    (the person's newest, so it is not read back)."""
    consent_id = _granted_consent(session, conversation.contact_id, consent_given_now)
    existing = open_handoff(session, conversation.contact_id)
    if existing is not None:
        if _URGENCY_RANK[request.urgency] > _URGENCY_RANK.get(existing.urgency, 0):
            existing.urgency = request.urgency
        existing.help_kind = request.help_kind or existing.help_kind
        existing.contact_method = request.contact_method or existing.contact_method
        existing.contact_time = request.contact_time or existing.contact_time
        existing.display_name = request.display_name or existing.display_name
        existing.info_topic = request.info_topic or existing.info_topic
        existing.consent_id = consent_id or existing.consent_id
        existing.language = conversation.language
        record(
            session,
            "handoff_updated",
            now,
            contact_id=conversation.contact_id,
            conversation_id=conversation.id,
            handoff_id=existing.id,
            urgency=existing.urgency,
        )
        return existing
    row = {
        "code": new_code(session),
        "conversation_id": conversation.id,
        "contact_id": conversation.contact_id,
        "status": "requested",
        "kind": request.kind,
        "urgency": request.urgency,
        "pathway": conversation.pathway,
        "language": conversation.language,
        "channel": channel,
        "help_kind": request.help_kind,
        "contact_method": request.contact_method,
        "contact_time": request.contact_time,
        "display_name": request.display_name,
        "info_topic": request.info_topic,
        "consent_id": consent_id,
        "created_at": now,
        "routing_round": 0,
        "checkins": 0,
    }
    handoff = insert_object(session, Handoff, row)
    record(
        session,
        "handoff_requested",
        now,
        contact_id=conversation.contact_id,
        conversation_id=conversation.id,
        handoff_id=handoff.id,
        urgency=handoff.urgency,
        kind=request.kind,
        pathway=handoff.pathway,
        language=handoff.language,
        help_kind=request.help_kind,
    )
    return handoff

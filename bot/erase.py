"""`doorway contacts erase ID`: remove one person's personal data, keep de-identified events."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot.db import transaction
from bot.events import record
from bot.followup.erase import erase_enrolments
from bot.handoff.requests import OPEN_STATUSES
from bot.identities import lock_contact
from bot.models import ChannelIdentity, Contact, Conversation, Handoff, Message, OutboxJob
from bot.services import Services

#: What an erased identity's address becomes (encrypted like any address).
TOMBSTONE = "erased"


class UnknownContact(LookupError):
    """No contact has this id."""


@dataclass(frozen=True)
class EraseReport:
    """Counts only: what was removed for the contact."""

    contact_id: int
    already_erased: bool
    identities: int
    messages: int
    conversations: int
    handoffs: int
    jobs_cancelled: int

    def lines(self) -> Iterator[str]:
        if self.already_erased:
            yield f"Contact {self.contact_id} was already erased; checked again, nothing left."
            return
        yield f"Contact {self.contact_id} erased:"
        yield f"  addresses made unfindable: {self.identities}"
        yield f"  message bodies removed: {self.messages}"
        yield f"  conversations cleared and closed: {self.conversations}"
        yield f"  handoffs cleared: {self.handoffs}"
        yield f"  pending messages cancelled: {self.jobs_cancelled}"
        yield "Events (de-identified facts) and consent records are kept."


def erase_contact(services: Services, contact_id: int, now: dt.datetime) -> EraseReport:
    """Erase in one transaction; running it again finds nothing more and records nothing."""
    with transaction(services.sessions) as session:
        if session.get(Contact, contact_id) is None:
            raise UnknownContact(contact_id)
        contact = lock_contact(session, contact_id)
        already = contact.erased_at is not None
        identity_ids = list(
            session.scalars(
                select(ChannelIdentity.id).where(ChannelIdentity.contact_id == contact_id)
            )
        )
        report = EraseReport(
            contact_id=contact_id,
            already_erased=already,
            identities=_identities(session, contact_id),
            messages=_messages(session, identity_ids),
            conversations=_conversations(session, contact_id, now),
            handoffs=_handoffs(session, contact_id, now),
            jobs_cancelled=_jobs(session, identity_ids, now),
        )
        # Follow-up enrolments hold a name, notes and who took consent: they go too.
        erase_enrolments(session, contact_id, now)
        contact.display_name = None
        if not already:
            contact.erased_at = now
            record(
                session,
                "contact_erased",
                now,
                contact_id=contact_id,
                identities=report.identities,
                messages=report.messages,
                conversations=report.conversations,
                handoffs=report.handoffs,
            )
        return report


def _identities(session: Session, contact_id: int) -> int:
    """Address replaced, blind index randomised: the number can never be looked up again, and
    a new message from it starts a new contact. A STOP on it cannot be honoured any more either
    (we no longer know the number), so nothing is sent to an erased identity: its jobs go."""
    identities = session.scalars(
        select(ChannelIdentity).where(ChannelIdentity.contact_id == contact_id)
    ).all()
    for identity in identities:
        identity.address = TOMBSTONE
        identity.address_index = "erased:" + secrets.token_urlsafe(32)
        identity.unreachable = True
        identity.unreachable_reason = "erased"
    return len(identities)


def _messages(session: Session, identity_ids: list[int]) -> int:
    if not identity_ids:
        return 0
    # The provider's message id goes too: with it, the provider's own logs give the number back.
    where = Message.identity_id.in_(identity_ids)
    count = int(
        session.scalar(
            select(func.count(Message.id)).where(
                where, Message.body.is_not(None) | Message.provider_id.is_not(None)
            )
        )
        or 0
    )
    session.execute(
        update(Message).where(where).values(body=None, provider_id=None),
        execution_options={"synchronize_session": False},
    )
    return count


def _conversations(session: Session, contact_id: int, now: dt.datetime) -> int:
    conversations = session.scalars(
        select(Conversation).where(Conversation.contact_id == contact_id)
    ).all()
    changed = 0
    for conversation in conversations:
        if conversation.slots is not None or conversation.status != "closed":
            changed += 1
        conversation.slots = None
        if conversation.status != "closed":
            conversation.status = "closed"
            conversation.updated_at = now
    return changed


def _handoffs(session: Session, contact_id: int, now: dt.datetime) -> int:
    """Names go; an open handoff is closed, since nobody can reach an erased person."""
    handoffs = session.scalars(select(Handoff).where(Handoff.contact_id == contact_id)).all()
    changed = 0
    for handoff in handoffs:
        if handoff.display_name is not None or handoff.status in OPEN_STATUSES:
            changed += 1
        handoff.display_name = None
        if handoff.status in OPEN_STATUSES:
            handoff.status = "closed"
            handoff.outcome = "contact_erased"
            handoff.closed_at = now
            record(
                session,
                "handoff_closed",
                now,
                contact_id=contact_id,
                handoff_id=handoff.id,
                outcome="contact_erased",
            )
    return changed


def _jobs(session: Session, identity_ids: list[int], now: dt.datetime) -> int:
    if not identity_ids:
        return 0
    where = (OutboxJob.identity_id.in_(identity_ids), OutboxJob.status == "pending")
    count = int(session.scalar(select(func.count(OutboxJob.id)).where(*where)) or 0)
    session.execute(
        update(OutboxJob)
        .where(*where)
        .values(status="cancelled", last_error="contact erased", updated_at=now),
        execution_options={"synchronize_session": False},
    )
    return count

"""What providers tell us after a send: delivery statuses and addresses that cannot be reached."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.db import transaction
from bot.events import record
from bot.identities import lock_contact
from bot.messaging import add_job, job_exists
from bot.models import ChannelIdentity, Message, OutboxJob
from bot.services import Services

log = logging.getLogger(__name__)

#: Later statuses outrank earlier ones: callbacks can arrive out of order and a late "sent"
#: must not undo "delivered".
STATUS_RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
    "cancelled": 4,
    "read": 5,
}
FAILED = frozenset({"undelivered", "failed"})


#: Twilio's code for a number that opted out at the carrier: only START lifts that.
CARRIER_OPT_OUT = "21610"


def heard_from(
    session: Session, identity: ChannelIdentity, now: dt.datetime, *, opted_in: bool = False
) -> None:
    """A message from an address shows it works again: lift its unreachable flag, so replies
    and check-ins go out. A carrier opt-out stays until the person sends START."""
    if not identity.unreachable:
        return
    if (identity.unreachable_reason or "").startswith(CARRIER_OPT_OUT) and not opted_in:
        return
    identity.unreachable = False
    identity.unreachable_reason = None
    record(
        session,
        "reachable_again",
        now,
        contact_id=identity.contact_id,
        channel=identity.channel,
    )


def mark_unreachable(
    session: Session, identity: ChannelIdentity, reason: str, now: dt.datetime
) -> bool:
    """Stop trying an address: flag it (staff can see why) and cancel what waits for it.

    Returns whether it changed anything.
    """
    if identity.unreachable and identity.unreachable_reason == reason:
        return False
    identity.unreachable = True
    identity.unreachable_reason = reason[:40]
    waiting = select(OutboxJob.message_id).where(
        OutboxJob.identity_id == identity.id,
        OutboxJob.status == "pending",
        OutboxJob.message_id.is_not(None),
    )
    session.execute(
        update(Message)
        .where(Message.id.in_(waiting), Message.status == "queued")
        .values(status="cancelled", updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(OutboxJob)
        .where(OutboxJob.identity_id == identity.id, OutboxJob.status == "pending")
        .values(status="cancelled", updated_at=now, last_error="unreachable")
        .execution_options(synchronize_session=False)
    )
    record(
        session,
        "address_unreachable",
        now,
        contact_id=identity.contact_id,
        channel=identity.channel,
        reason=identity.unreachable_reason,
    )
    return True


def record_status(
    services: Services,
    *,
    channel: str,
    provider_id: str,
    status: str,
    error_code: str | None,
    unreachable_reason: str | None,
) -> bool:
    """Store a provider's delivery status on our message; returns False for an unknown id.

    `unreachable_reason` is set by the connector when the error says the address is dead.
    """
    now = services.clock()
    with transaction(services.sessions) as session:
        message = session.scalar(
            select(Message).where(Message.channel == channel, Message.provider_id == provider_id)
        )
        if message is None:
            return False
        identity = session.get(ChannelIdentity, message.identity_id)
        assert identity is not None
        lock_contact(session, identity.contact_id)
        session.refresh(message)
        session.refresh(identity)
        rank = STATUS_RANK.get(status)
        if rank is not None and rank >= STATUS_RANK.get(message.status, 0):
            message.status = status
            message.updated_at = now
        if error_code:
            message.error_code = error_code[:16]
        if status in FAILED:
            record(
                session,
                "delivery_failed",
                now,
                contact_id=identity.contact_id,
                conversation_id=message.conversation_id,
                channel=channel,
                error_code=error_code,
            )
        if unreachable_reason:
            mark_unreachable(session, identity, unreachable_reason, now)
    return True


def queue_stored_replies(services: Services, message_ids: list[int]) -> int:
    """Hand replies that missed their webhook response to the outbox, exactly once.

    receive() stored them as sent for an inline reply that never left. A reply made while the
    person was already opted out can only have been one allowed through anyway (the STOP
    confirmation, HELP, a crisis answer), so it keeps that right; a later STOP still wins.
    """
    now = services.clock()
    queued = 0
    with transaction(services.sessions) as session:
        for message_id in message_ids:
            message = session.get(Message, message_id)
            if message is None or message.status != "sent" or message.provider_id is not None:
                continue
            identity = session.get(ChannelIdentity, message.identity_id)
            assert identity is not None
            lock_contact(session, identity.contact_id)
            session.refresh(identity)
            key = f"msg:{message.id}"
            if job_exists(session, key):
                continue
            force = bool(
                identity.opted_out
                and identity.opted_out_at is not None
                and identity.opted_out_at <= message.created_at
            )
            message.status = "queued"
            message.updated_at = now
            add_job(
                session,
                kind="send",
                idempotency_key=key,
                due_at=now,
                identity_id=identity.id,
                message_id=message.id,
                payload={"reply": True, "force": force},
                created_at=now,
            )
            queued += 1
    if queued:
        services.wake_outbox()
    return queued


def record_sent(
    session: Session,
    now: dt.datetime,
    *,
    contact_id: int | None,
    conversation_id: int | None,
    channel: str | None,
    attempts: int,
    scheduled: bool,
) -> None:
    """The `message_sent` event of a send the provider took (what the metrics and reports
    count), however the send came to be recorded."""
    record(
        session,
        "message_sent",
        now,
        contact_id=contact_id,
        conversation_id=conversation_id,
        channel=channel,
        attempts=attempts,
        scheduled=scheduled,
    )


def record_failed(
    session: Session,
    now: dt.datetime,
    *,
    contact_id: int | None,
    conversation_id: int | None,
    channel: str | None,
    error_code: str,
    permanent: bool,
    attempts: int,
) -> None:
    """The `message_failed` event of a send given up for good (refused for good, or out of
    attempts), however it failed."""
    record(
        session,
        "message_failed",
        now,
        contact_id=contact_id,
        conversation_id=conversation_id,
        channel=channel,
        error_code=error_code,
        permanent=permanent,
        attempts=attempts,
    )

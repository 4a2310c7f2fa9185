"""STOP / START / HELP: what they change and the one reply each may send."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.orm import Session

from bot.events import record
from bot.followup.stops import stop_for_identity
from bot.i18n import N_
from bot.models import ChannelIdentity, Conversation, OutboxJob

MSG_STOPPED = N_(
    "You are unsubscribed from {program}. You will no longer receive messages from us. "
    "Reply START to come back, or call {hotline} for help."
)
MSG_STARTED = N_(
    "You are subscribed again to {program} messages. {frequency}. Msg&data rates may apply. "
    "Reply HELP for help, STOP to cancel."
)
MSG_HELP = N_(
    "{program}: Help at {hotline} or {website}. Msg&data rates may apply. {frequency}. "
    "Reply STOP to cancel."
)


def opt_out(
    session: Session,
    identity: ChannelIdentity,
    now: dt.datetime,
    *,
    via: str,
    conversation: Conversation | None,
) -> bool:
    """Opt the address out at once and cancel everything queued for it.

    Returns whether this changed anything: a repeated STOP gets no second confirmation.
    """
    already = identity.opted_out
    identity.opted_out = True
    identity.opted_out_at = identity.opted_out_at if already else now
    if conversation is not None and conversation.status != "closed":
        conversation.status = "closed"
        conversation.updated_at = now
    session.execute(
        update(OutboxJob)
        .where(
            OutboxJob.status == "pending",
            OutboxJob.identity_id == identity.id,
        )
        .values(status="cancelled", updated_at=now, last_error="opted out")
    )
    stop_for_identity(session, identity.id, "opt_out", now)  # no more check-ins, ever
    if not already:
        record(
            session,
            "opt_out",
            now,
            contact_id=identity.contact_id,
            conversation_id=conversation.id if conversation else None,
            channel=identity.channel,
            via=via,
        )
    return not already


def send_in_flight(identity: ChannelIdentity, now: dt.datetime) -> bool:
    """Whether the outbox is sending to this address at this moment (it marks the address
    busy for the send, outside any transaction)."""
    return identity.sending_until is not None and identity.sending_until > now


def opt_in(session: Session, identity: ChannelIdentity, now: dt.datetime, *, via: str) -> bool:
    """Opt the address back in; returns whether it had been opted out."""
    was_out = identity.opted_out
    identity.opted_out = False
    identity.opted_out_at = None
    if was_out:
        record(
            session,
            "opt_in",
            now,
            contact_id=identity.contact_id,
            channel=identity.channel,
            via=via,
        )
    return was_out

"""Stopping a follow-up: mark the enrolment, cancel what waits for it, record why."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.events import record
from bot.models import FollowupEnrolment, Message, OutboxJob

#: Enrolments that may still be stopped (a completed one can still be replied to).
STOPPABLE = ("active", "completed")


def job_prefix(enrolment_id: int) -> str:
    """Every outbox job of one enrolment has an idempotency key starting with this."""
    return f"followup:{enrolment_id}:"


def stop(session: Session, enrolment: FollowupEnrolment, reason: str, now: dt.datetime) -> bool:
    """Stop future steps at once; returns whether this changed anything."""
    if enrolment.status not in STOPPABLE:
        return False
    enrolment.status = "stopped"
    enrolment.stop_reason = reason[:30]
    enrolment.stopped_at = now
    enrolment.updated_at = now
    pending = (
        OutboxJob.status == "pending",
        OutboxJob.idempotency_key.startswith(job_prefix(enrolment.id), autoescape=True),
    )
    waiting = select(OutboxJob.message_id).where(*pending, OutboxJob.message_id.is_not(None))
    session.execute(
        update(Message)
        .where(Message.id.in_(waiting), Message.status == "queued")
        .values(status="cancelled", updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(OutboxJob)
        .where(*pending)
        .values(status="cancelled", updated_at=now, last_error=f"follow-up stopped: {reason}")
        .execution_options(synchronize_session=False)
    )
    record(
        session,
        "followup_stopped",
        now,
        contact_id=enrolment.contact_id,
        enrolment_id=enrolment.id,
        team=enrolment.team,
        reason=reason,
        steps_sent=0 if enrolment.last_step is None else enrolment.last_step + 1,
    )
    return True


def stop_for_identity(session: Session, identity_id: int, reason: str, now: dt.datetime) -> int:
    """Stop every follow-up to one address (an opt-out); returns how many stopped."""
    enrolments = session.scalars(
        select(FollowupEnrolment).where(
            FollowupEnrolment.identity_id == identity_id,
            FollowupEnrolment.status.in_(STOPPABLE),
        )
    ).all()
    return sum(stop(session, enrolment, reason, now) for enrolment in enrolments)

"""When a job raises or its worker dies: its state read without loading its rows (they may be
what failed); a send the provider accepted whose answer could not be written; a job given up
(its message failed) after it raised or its workers died once per attempt.

Backing off such a send would send it again: a second copy of a check-in, or of a responder's
alert, for a database that failed for a moment after the provider said yes. The record is
written here in plain statements of its own rather than by the worker's usual ORM path: were
the fault in that path, a second try through it would fail the same way.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.orm import Session

from bot.db import transaction
from bot.models import ChannelIdentity, Message, OutboxJob
from bot.outbox.delivery import record_failed, record_sent
from bot.services import Services
from connectors.base import SendResult

log = logging.getLogger(__name__)


class AnsweredButUnrecorded(Exception):
    """The provider answered a send and writing its answer raised (the cause)."""

    def __init__(self, result: SendResult, busy_until: dt.datetime) -> None:
        super().__init__("the provider's answer to a send could not be recorded")
        self.result = result
        self.busy_until = busy_until


def job_state(session: Session, job_id: int) -> Row[*tuple[Any, ...]] | None:
    """The job's status, lease, attempts and whom it concerns, in one plain SELECT."""
    return session.execute(
        select(
            OutboxJob.status,
            OutboxJob.claimed_until,
            OutboxJob.attempts,
            OutboxJob.scheduled,
            OutboxJob.message_id,
            OutboxJob.identity_id,
            Message.conversation_id,
            Message.channel,
            ChannelIdentity.contact_id,
        )
        .outerjoin(Message, Message.id == OutboxJob.message_id)
        .outerjoin(ChannelIdentity, ChannelIdentity.id == OutboxJob.identity_id)
        .where(OutboxJob.id == job_id)
    ).one_or_none()


def record_accepted_send(
    services: Services,
    job_id: int,
    lease: dt.datetime,
    answered: AnsweredButUnrecorded,
) -> bool:
    """Write what a full record of the send would have (job done, message sent with the
    provider's id, the address free, `message_sent`) in plain statements, in a transaction of
    its own; False when the job is no longer this worker's (its lease ran out meanwhile)."""
    result = answered.result
    with transaction(services.sessions, background=True) as session:
        now = services.clock()
        state = job_state(session, job_id)
        if state is None or state.status != "running" or state.claimed_until != lease:
            return False
        session.execute(
            update(OutboxJob)
            .where(OutboxJob.id == job_id)
            .values(status="done", claimed_until=None, last_error=None, updated_at=now)
        )
        if state.message_id is not None:
            sent: dict[str, Any] = {
                "status": "sent",
                "provider_id": result.provider_id,
                "error_code": None,
            }
            if result.extra.get("segments", "").isdigit():
                sent["segments"] = int(result.extra["segments"])
            session.execute(
                update(Message).where(Message.id == state.message_id).values(**sent, updated_at=now)
            )
        if state.identity_id is not None:
            session.execute(
                update(ChannelIdentity)
                .where(
                    ChannelIdentity.id == state.identity_id,
                    ChannelIdentity.sending_until == answered.busy_until,
                )
                .values(sending_until=None)
            )
        record_sent(
            session,
            now,
            contact_id=state.contact_id,
            conversation_id=state.conversation_id,
            channel=state.channel,
            attempts=state.attempts,
            scheduled=state.scheduled,
        )
    log.error("outbox: job %s was sent, and recorded only on a second try", job_id)
    return True


def give_up_abandoned(session: Session, job_ids: list[int], now: dt.datetime) -> None:
    """Fail abandoned jobs (their worker died holding them) that have had every attempt.

    Each claim counts an attempt, and failing a job is otherwise left to the recording of an
    attempt, which a job that kills its worker (a message some library cannot take) never
    reaches: it would be claimed, and kill a worker, after every lease for ever.
    """
    for job_id in job_ids:
        state = job_state(session, job_id)
        if state is None:
            continue
        session.execute(
            update(OutboxJob)
            .where(OutboxJob.id == job_id)
            .values(
                status="failed", claimed_until=None, last_error="error:abandoned", updated_at=now
            )
        )
        fail_message(session, state, "error:abandoned", now)
        log.error("outbox: job %s was abandoned %s times; given up", job_id, state.attempts)


def fail_message(
    session: Session, state: Row[*tuple[Any, ...]], error: str, now: dt.datetime
) -> None:
    """A given-up job's message (if it has one and it was still queued) failed, and its
    `message_failed` event; `state` is the job's `job_state`."""
    if state.message_id is None:
        return
    session.execute(
        update(Message)
        .where(Message.id == state.message_id, Message.status == "queued")
        .values(status="failed", error_code=error[:16], updated_at=now)
    )
    record_failed(
        session,
        now,
        contact_id=state.contact_id,
        conversation_id=state.conversation_id,
        channel=state.channel,
        error_code=error,
        permanent=False,
        attempts=state.attempts,
    )

"""The rows one outbox job needs (the job, its address, its message, and whether an earlier
text to the same person waits for a retry), read with the person locked: the first and last
statements of each of a send's two short transactions."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import ScalarSelect, Select, bindparam, false, literal_column, select
from sqlalchemy.orm import Session, aliased

from bot.models import ChannelIdentity, Contact, Message, OutboxJob
from bot.orm_rows import attach_row, columns_of
from bot.prepared import fetch_one
from bot.sql_words import inline_word


@dataclass(frozen=True)
class JobRows:
    job: OutboxJob
    identity: ChannelIdentity | None  # None for a timer
    message: Message | None  # None for a timer
    #: When an earlier unscheduled text to the same address, already tried once and waiting
    #: for its retry, falls due: this one must not overtake it. None when there is none.
    held_until: dt.datetime | None = None


#: The objects a job's row holds, in its order (read on the driver's cursor: through the
#: ORM, loading them was about a fifth of a job's CPU).
JOB_MODELS = (OutboxJob, ChannelIdentity, Message)


def load_job(session: Session, job_id: int, *, ask_held: bool = False) -> JobRows | None:
    """The job and what it sends, with the person's contact locked; None if the job is gone.
    `ask_held` also asks `held_until` (only the check before a send needs it).

    On SQLite the transaction already holds the write lock (BEGIN IMMEDIATE): one statement.
    On PostgreSQL the contact is locked first, so the read that follows sees whatever a
    concurrent message from the person (a STOP) committed before it.
    """
    params = {"job_id": job_id}
    # On PostgreSQL the row overwrites what the session may hold (see load_sender).
    refresh = session.get_bind().dialect.name != "sqlite"
    if refresh:
        fetch_one(session, _lock_contact_of_job(), params)
    row = fetch_one(session, _job_statement(ask_held), params)
    if row is None:
        return None
    (job, identity, message), rest = attach_row(session, JOB_MODELS, row, refresh=refresh)
    assert isinstance(job, OutboxJob)
    assert identity is None or isinstance(identity, ChannelIdentity)
    assert message is None or isinstance(message, Message)
    return JobRows(job, identity, message, *rest)


@functools.cache
def _job_statement(ask_held: bool) -> Select[Any]:
    """Built once each: building a statement costs about as much CPU as SQLite takes to run
    it."""
    statement = (
        select(*columns_of(*JOB_MODELS))
        .outerjoin(ChannelIdentity, ChannelIdentity.id == OutboxJob.identity_id)
        .outerjoin(Message, Message.id == OutboxJob.message_id)
        .where(OutboxJob.id == bindparam("job_id"))
    )
    if ask_held:
        return cast(Select[Any], statement.add_columns(_held_until().label("held_until")))
    return cast(Select[Any], statement)


def _held_until() -> ScalarSelect[dt.datetime]:
    """The due time of the oldest earlier unscheduled send to the job's address that was
    tried and waits for its retry. Its terms are the partial index's (models
    SENDS_AWAITING_RETRY, the 0 written into the SQL), so the planner can prove it applies."""
    earlier = aliased(OutboxJob)
    return (
        select(earlier.due_at)
        .where(
            earlier.identity_id == OutboxJob.identity_id,
            earlier.id < OutboxJob.id,
            earlier.kind == inline_word("send"),
            earlier.status == inline_word("pending"),
            earlier.scheduled == false(),
            earlier.attempts > literal_column("0"),
        )
        .order_by(earlier.id)
        .limit(1)
        .correlate(OutboxJob)
        .scalar_subquery()
    )


@functools.cache
def _lock_contact_of_job() -> Select[Any]:
    """The contact a job writes to, locked for this transaction (PostgreSQL; none for a timer)."""
    return (
        select(Contact.id)
        .join(ChannelIdentity, ChannelIdentity.contact_id == Contact.id)
        .join(OutboxJob, OutboxJob.identity_id == ChannelIdentity.id)
        .where(OutboxJob.id == bindparam("job_id"))
        .with_for_update(of=Contact)
    )

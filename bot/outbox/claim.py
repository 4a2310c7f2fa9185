"""Claim due jobs for one worker with a lease: SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on
SQLite (one writer at a time), so two workers never hold the same job. A worker that shuts
down hands back what it has not started."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import BindParameter, ColumnElement, CursorResult, Select, bindparam, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from bot.db import transaction
from bot.models import LIVE_JOB_STATUSES, Message, OutboxJob
from bot.outbox.faults import give_up_abandoned
from bot.services import Services
from bot.sql_words import inline_word, inline_words

#: What a job does: send a stored message, or fire a component's timer.
JobKind = Literal["send", "timer"]


@dataclass(frozen=True)
class Claim:
    """A job this worker holds until `lease` (the lease also tells a stale claim apart)."""

    job_id: int
    lease: dt.datetime
    channel: str | None
    identity_id: int | None
    kind: str

    @property
    def recipient(self) -> int | None:
        """The identity whose messages must go in order; a timer sends nothing itself."""
        return None if self.kind == "timer" else self.identity_id


def claim_jobs(
    services: Services,
    *,
    limit: int,
    lease_seconds: float,
    send_limit: int | None = None,
    kind: JobKind | None = None,
    max_attempts: int | None = None,
) -> list[Claim]:
    """Take up to `limit` due jobs: pending ones whose time has come, and running ones whose
    worker's lease ran out (it died mid-job). Each claim counts as an attempt.

    Sends are taken at most `send_limit` at a time (what the sender's pace lets a round send
    soon) and timers beside them, in `claim_order`: a round lasts until its last send, and a
    timer (a handoff's routing) must not wait behind a queue of paced texts. `kind` takes
    only timers or only sends. With `max_attempts`, an abandoned job that has had them all
    is failed instead of claimed again (`faults.give_up_abandoned`).
    """
    now = services.clock()
    lease = now + dt.timedelta(seconds=lease_seconds)
    sends = limit if send_limit is None else min(limit, send_limit)
    with transaction(services.sessions, background=True) as session:
        abandoned = _abandoned(session, kind, now, limit, max_attempts)
        due = []
        if kind in (None, "timer"):
            due += _due(session, now, abandoned, timers=True, limit=limit)
        if kind in (None, "send"):
            due += _due(session, now, abandoned, timers=False, limit=sends)
        ids = [job_id for *_, job_id in sorted(due)[:limit]]
        if not ids:
            return []
        session.execute(_TAKE, {"ids": ids, "lease": lease, "now": now})
        rows = session.execute(_TAKEN, {"ids": ids})
        held = {
            job_id: Claim(job_id, lease, channel, identity_id, kind)
            for job_id, channel, identity_id, kind in rows
        }
    return [held[job_id] for job_id in ids]


#: A job found due: its kind, and its place in the claim order (scheduled, due time, id).
Found = tuple[str, bool, dt.datetime, int]


def _due(
    session: Session, now: dt.datetime, abandoned: list[Found], *, timers: bool, limit: int
) -> list[tuple[bool, dt.datetime, int]]:
    """(scheduled, due time, id) of the first due timers, or of the first due sends, locked
    for us: the pending ones whose time has come and the abandoned ones of the kind."""
    if limit <= 0:
        return []
    kind = "timer" if timers else "send"
    waiting = session.execute(_locked(waiting_jobs(timers=timers), limit), {"now": now}).all()
    places = [
        (scheduled, due_at, job_id)
        for job_kind, scheduled, due_at, job_id in [*waiting, *abandoned]
        if job_kind == kind
    ]
    return sorted(places)[:limit]


def _abandoned(
    session: Session, kind: JobKind | None, now: dt.datetime, limit: int, max_attempts: int | None
) -> list[Found]:
    """Abandoned jobs to claim again; those that have had every attempt are failed instead."""
    rows = session.execute(_locked(abandoned_jobs(kind), limit), {"now": now}).all()
    spent = [row.id for row in rows if max_attempts is not None and row.attempts >= max_attempts]
    if spent:
        give_up_abandoned(session, spent, now)
    return [(row.kind, row.scheduled, row.due_at, row.id) for row in rows if row.id not in spent]


_NOW = bindparam("now", type_=OutboxJob.due_at.type)
_IDS: BindParameter[int] = bindparam("ids", expanding=True)

# The claim's statements are built once, like `waiting_jobs`: a round runs them all, and
# SQLAlchemy walks a statement it has not seen to compute its cache key (with the worker
# inside the server, about 1.5 % of its CPU went to building and walking these).
_TAKE = (
    update(OutboxJob)
    .where(OutboxJob.id.in_(_IDS))
    .values(
        status="running",
        claimed_until=bindparam("lease", type_=OutboxJob.claimed_until.type),
        attempts=OutboxJob.attempts + 1,
        updated_at=_NOW,
    )
    .execution_options(synchronize_session=False)
)
_TAKEN = (
    select(OutboxJob.id, Message.channel, OutboxJob.identity_id, OutboxJob.kind)
    .outerjoin(Message, Message.id == OutboxJob.message_id)
    .where(OutboxJob.id.in_(_IDS))
)


@functools.lru_cache(maxsize=64)
def _locked(statement: Select[Any], limit: int) -> Select[Any]:
    """The first `limit` rows of a claim statement, locked for this worker (SKIP LOCKED on
    PostgreSQL); one per statement and limit, of which a worker has a handful."""
    return statement.limit(limit).with_for_update(skip_locked=True)


@functools.cache
def waiting_jobs(*, timers: bool) -> Select[str, bool, dt.datetime, int]:
    """Pending timers, or pending sends, whose time has come, in `claim_order`.

    An index seek that stops at the present (on `ix_outbox_live_kind_status_due`, or on the
    status index where SQLite's statistics prefer it): the jobs still to come (a follow-up
    timer for every person enrolled, weeks ahead) are never read. Built
    once for each (a statement is immutable); `now` is a parameter.
    """
    return (
        _jobs(_LIVE, OutboxJob.status == inline_word("pending"))
        .where(
            OutboxJob.kind == inline_word("timer" if timers else "send"), OutboxJob.due_at <= _NOW
        )
        .order_by(*claim_order(timers))
    )


@functools.cache
def abandoned_jobs(kind: JobKind | None = None) -> Select[str, bool, dt.datetime, int, int]:
    """Running jobs (of one kind, or both) whose worker's lease ran out: it died mid-job; with
    their attempts. Rare, and only the few running jobs are read, so one statement looks for
    both kinds.

    It does not name both live statuses: SQLite then sought the index by both, reading every
    pending job (the timers weeks ahead too) to find the running ones.
    """
    statement = _jobs(
        OutboxJob.status == inline_word("running"), OutboxJob.claimed_until < _NOW
    ).add_columns(OutboxJob.attempts)
    if kind is not None:
        statement = statement.where(OutboxJob.kind == inline_word(kind))
    return statement.order_by(*claim_order(timers=False))


def claim_order(timers: bool) -> tuple[InstrumentedAttribute[Any], ...]:
    """The order jobs are claimed in: oldest first, except that a send someone is waiting for
    (a reply to a person, a responder's alert for a handoff) goes before the scheduled ones
    (follow-up check-ins, where quiet hours apply). Oldest first alone, at one text a second,
    a campaign's morning batch of 600 check-ins would hold a handoff's alert back ten
    minutes. Timers count as unscheduled when both kinds are merged (`claim_jobs`).
    """
    by_age = (OutboxJob.due_at, OutboxJob.id)
    return by_age if timers else (OutboxJob.scheduled, *by_age)


#: The live statuses in the words of the partial index `ix_outbox_live_kind_status_due`: a
#: query that says this (and narrows it further) may use it.
_LIVE = OutboxJob.status.in_(inline_words(LIVE_JOB_STATUSES))


def _jobs(*conditions: ColumnElement[bool]) -> Select[str, bool, dt.datetime, int]:
    return select(OutboxJob.kind, OutboxJob.scheduled, OutboxJob.due_at, OutboxJob.id).where(
        *conditions
    )


def release(services: Services, claims: Sequence[Claim]) -> int:
    """Hand back claimed jobs this worker will not start, so they go out now from another
    worker instead of waiting out the lease (one may be a crisis reply); returns how many.

    Only a job still held under the claim's own lease is touched: once a lease has run out
    the job may belong to another worker. Nothing was tried, so the attempt the claim counted
    is taken back, and `due_at` stays: the job keeps its place in the queue.
    """
    now = services.clock()
    released = 0
    with transaction(services.sessions, background=True) as session:
        for lease in {claim.lease for claim in claims}:
            ids = [claim.job_id for claim in claims if claim.lease == lease]
            result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
                update(OutboxJob)
                .where(
                    OutboxJob.id.in_(ids),
                    OutboxJob.status == "running",
                    OutboxJob.claimed_until == lease,
                )
                .values(
                    status="pending",
                    claimed_until=None,
                    attempts=OutboxJob.attempts - 1,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            released += result.rowcount
    return released

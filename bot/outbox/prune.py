"""Finished outbox jobs go after `keep_days`: the queue's table must not grow with every text.

A job is finished once it is done, failed or cancelled; nothing reads it again except its
idempotency key, which only ever guards against queueing the same job twice within moments
(a retried transaction, a second request at the same instant) or while its message is still
unsent. What happened to each message stays in the message's status and in the de-identified
events, which are never pruned here.

A job's age is its due time: a job is only finished after it fell due, so a job due before
the cutoff finished before it or soon after; a job cancelled before its time (a follow-up
check-in weeks ahead) waits until that time is past the cutoff too. That bound is also what
the (status, due time) index can seek, so a prune never walks the jobs it keeps.

Deleted in batches, each a short transaction of its own: on SQLite every transaction holds
the one writer, and a prune must take its turn with webhooks, not stop them for a minute.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import CursorResult, Select, delete, func, select

from bot.db import transaction
from bot.models import OutboxJob
from bot.services import Services
from bot.sql_words import inline_word, inline_words

#: The statuses a job never leaves.
FINISHED_JOB_STATUSES = ("done", "failed", "cancelled")
#: Jobs deleted per transaction.
PRUNE_BATCH = 500


def prune_finished_jobs(
    services: Services,
    now: dt.datetime,
    keep: dt.timedelta,
    *,
    dry_run: bool = False,
    batch: int = PRUNE_BATCH,
    stopping: Callable[[], bool] = lambda: False,
) -> int:
    """Delete (or, in a dry run, count) the jobs finished before `now - keep`; returns how
    many. Stops between batches once `stopping()` says so; the next prune goes on."""
    cutoff = now - keep
    if dry_run:
        with services.read_sessions() as session:
            counted = select(func.count()).select_from(finished_jobs(cutoff).subquery())
            return int(session.scalar(counted) or 0)
    pruned = 0
    for status in FINISHED_JOB_STATUSES:
        # Several workers prune at once on PostgreSQL: each takes rows no other holds.
        taken = finished_jobs(cutoff, status).with_for_update(skip_locked=True).limit(batch)
        while not stopping():
            with transaction(services.sessions, background=True) as session:
                ids = session.scalars(taken).all()
                if ids:
                    gone = session.execute(
                        delete(OutboxJob)
                        .where(OutboxJob.id.in_(ids))
                        .execution_options(synchronize_session=False)
                    )
                    pruned += cast(CursorResult[Any], gone).rowcount
            if len(ids) < batch:
                break
    return pruned


def finished_jobs(cutoff: dt.datetime, status: str | None = None) -> Select[int]:
    """The ids of jobs finished (or finished with `status`) and due before the cutoff.

    With one status, oldest first: a seek of the (status, due time) index in any plan. A
    prepared statement on PostgreSQL gets one plan for every cutoff, which guesses a third of
    the table due; for the three statuses at once, unordered, that plan was a table scan at
    every batch, the live jobs included."""
    if status is None:
        return select(OutboxJob.id).where(
            OutboxJob.status.in_(inline_words(FINISHED_JOB_STATUSES)), OutboxJob.due_at < cutoff
        )
    return (
        select(OutboxJob.id)
        .where(OutboxJob.status == inline_word(status), OutboxJob.due_at < cutoff)
        .order_by(OutboxJob.due_at)
    )


__all__ = ["FINISHED_JOB_STATUSES", "finished_jobs", "prune_finished_jobs"]

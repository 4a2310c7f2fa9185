"""Claim due jobs for one worker with a lease: SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on
SQLite (one writer at a time), so two workers never hold the same job. A worker that shuts
down hands back what it has not started."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CursorResult, and_, or_, select, update

from bot.db import transaction
from bot.models import Message, OutboxJob
from bot.services import Services


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


def claim_jobs(services: Services, *, limit: int, lease_seconds: float) -> list[Claim]:
    """Take up to `limit` due jobs: pending ones whose time has come, and running ones whose
    worker's lease ran out (it died mid-job). Each claim counts as an attempt."""
    now = services.clock()
    lease = now + dt.timedelta(seconds=lease_seconds)
    with transaction(services.sessions, background=True) as session:
        due = or_(
            and_(OutboxJob.status == "pending", OutboxJob.due_at <= now),
            and_(OutboxJob.status == "running", OutboxJob.claimed_until < now),
        )
        ids = list(
            session.scalars(
                select(OutboxJob.id)
                .where(due)
                .order_by(OutboxJob.due_at, OutboxJob.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if not ids:
            return []
        session.execute(
            update(OutboxJob)
            .where(OutboxJob.id.in_(ids))
            .values(
                status="running",
                claimed_until=lease,
                attempts=OutboxJob.attempts + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        rows = session.execute(
            select(OutboxJob.id, Message.channel, OutboxJob.identity_id, OutboxJob.kind)
            .outerjoin(Message, Message.id == OutboxJob.message_id)
            .where(OutboxJob.id.in_(ids))
        )
        held = {
            job_id: Claim(job_id, lease, channel, identity_id, kind)
            for job_id, channel, identity_id, kind in rows
        }
    return [held[job_id] for job_id in ids]


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

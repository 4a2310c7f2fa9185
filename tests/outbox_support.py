"""Outbox test helpers: plain sends queued as a component would, their states afterwards."""

from __future__ import annotations

from sqlalchemy import select

from bot.db import transaction
from bot.identities import find_or_create_identity
from bot.models import Message, OutboxJob
from bot.services import Services


def queue_texts(services: Services, addresses: list[str], *, scheduled: bool = False) -> list[int]:
    """One plain send per entry, queued in this order (body "text i"); returns the job ids.
    `scheduled` queues them as a follow-up campaign does (quiet hours apply)."""
    now = services.clock()
    ids = []
    with transaction(services.sessions) as session:
        for i, address in enumerate(addresses):
            identity = find_or_create_identity(session, services.vault, "sms", address, now)
            message = Message(
                identity_id=identity.id,
                direction="out",
                channel="sms",
                body=f"text {i}",
                status="queued",
                created_at=now,
            )
            session.add(message)
            session.flush()
            job = OutboxJob(
                kind="send",
                idempotency_key=f"test:{message.id}",
                due_at=now,
                scheduled=scheduled,
                identity_id=identity.id,
                message_id=message.id,
                payload={"reply": False},
                created_at=now,
            )
            session.add(job)
            session.flush()
            ids.append(job.id)
    return ids


def queue_timer(services: Services, name: str) -> int:
    """A timer job due now for the handler registered as `name`; returns its id."""
    now = services.clock()
    with transaction(services.sessions) as session:
        job = OutboxJob(
            kind="timer",
            idempotency_key=f"test:{name}:{now.isoformat()}",
            due_at=now,
            payload={"timer": name},
            created_at=now,
        )
        session.add(job)
        session.flush()
        return job.id


def statuses(services: Services, ids: list[int]) -> list[tuple[str, int]]:
    with services.sessions() as session:
        jobs = {job.id: job for job in session.scalars(select(OutboxJob))}
    return [(jobs[i].status, jobs[i].attempts) for i in ids]

"""Finished outbox jobs are pruned after `keep_days`, by the worker and by `doorway outbox
prune`: the queue's table does not grow with every text, and nothing still to do is lost."""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from bot.db import transaction
from bot.models import Event, Message, OutboxJob
from bot.outbox import BackgroundWorker, load_outbox_settings
from bot.outbox.prune import prune_finished_jobs
from bot.services import Services
from bot.web.app import create_app
from tests.outbox_support import queue_texts
from tests.test_cli import run

KEEP = dt.timedelta(days=30)


def _age(services: Services, job_id: int, status: str, days: float) -> None:
    """The job as if it fell due `days` ago and ended (or stayed) in `status`."""
    with transaction(services.sessions) as session:
        session.execute(
            update(OutboxJob)
            .where(OutboxJob.id == job_id)
            .values(status=status, due_at=services.clock() - dt.timedelta(days=days))
        )


def _left(services: Services, ids: list[int]) -> list[int]:
    with services.sessions() as session:
        found = set(session.scalars(select(OutboxJob.id).where(OutboxJob.id.in_(ids))))
    return [job_id for job_id in ids if job_id in found]


@pytest.mark.parametrize(
    ("status", "days", "pruned"),
    [
        ("done", 31, True),
        ("failed", 31, True),
        ("cancelled", 31, True),
        ("done", 29, False),  # within the days kept
        ("cancelled", -20, False),  # a check-in cancelled before its time, still ahead
        ("pending", 400, False),  # waiting for ever is still waiting: never pruned
        ("running", 400, False),  # a claim in hand (or abandoned, to be claimed again)
    ],
)
def test_which_jobs_are_pruned(services: Services, status: str, days: int, pruned: bool) -> None:
    (job_id,) = queue_texts(services, ["+12125550100"])
    _age(services, job_id, status, days)
    count = prune_finished_jobs(services, services.clock(), KEEP)
    assert count == int(pruned)
    assert _left(services, [job_id]) == ([] if pruned else [job_id])


def test_the_message_and_its_events_stay(services: Services) -> None:
    ids = queue_texts(services, ["+12125550101"])
    with transaction(services.sessions) as session:
        job = session.get(OutboxJob, ids[0])
        assert job is not None
        message_id = job.message_id
        session.execute(update(Message).where(Message.id == message_id).values(status="sent"))
        session.add(Event(kind="message_sent", created_at=services.clock(), data={}))
    _age(services, ids[0], "done", 60)
    assert prune_finished_jobs(services, services.clock(), KEEP) == 1
    with services.sessions() as session:
        message = session.get(Message, message_id)
        assert message is not None and message.status == "sent"
        assert session.scalar(select(Event.id).where(Event.kind == "message_sent")) is not None


def test_a_prune_goes_in_batches_and_a_dry_run_only_counts(services: Services) -> None:
    ids = queue_texts(services, [f"+1212555{n:04d}" for n in range(110, 117)])
    for job_id in ids[:5]:
        _age(services, job_id, "done", 45)
    now = services.clock()
    assert prune_finished_jobs(services, now, KEEP, dry_run=True) == 5
    assert _left(services, ids) == ids
    assert prune_finished_jobs(services, now, KEEP, batch=2) == 5
    assert _left(services, ids) == ids[5:]


def test_a_prune_asked_to_stop_stops_between_batches(services: Services) -> None:
    ids = queue_texts(services, [f"+1212555{n:04d}" for n in range(120, 125)])
    for job_id in ids:
        _age(services, job_id, "done", 45)
    batches: list[int] = []

    def stopping() -> bool:
        batches.append(1)
        return len(batches) > 1  # after the first batch

    assert prune_finished_jobs(services, services.clock(), KEEP, batch=2, stopping=stopping) == 2
    assert len(_left(services, ids)) == 3


def test_the_worker_prunes_when_it_starts(services: Services) -> None:
    old, recent = queue_texts(services, ["+12125550130", "+12125550131"])
    _age(services, old, "done", 45)
    _age(services, recent, "done", 2)
    worker = BackgroundWorker(services, load_outbox_settings(poll_seconds=60, keep_days=30))
    with TestClient(create_app(services, [], worker=worker)):
        deadline = time.monotonic() + 10
        while _left(services, [old]) and time.monotonic() < deadline:
            time.sleep(0.02)
    assert _left(services, [old, recent]) == [recent]


def test_the_prune_command(tmp_path: Path) -> None:
    result = run(["outbox", "prune", "--dry-run"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        "Finished outbox jobs older than 30 days: 0 would be deleted."
    )
    result = run(["outbox", "prune", "--days", "7"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == (
        "Finished outbox jobs older than 7 days: 0 deleted."
    )
    refused = run(["outbox", "prune", "--days", "0"], tmp_path)
    assert refused.returncode == 2
    assert "must be 1 or more" in refused.stderr


def test_a_prune_skips_rows_another_worker_holds(services: Services) -> None:
    """Workers prune at the same moments (at start, hourly): on PostgreSQL each takes rows
    nobody holds instead of waiting for another's batch, and counts only what it deleted."""
    if services.engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL (SQLite has one writer)")
    held, free = queue_texts(services, ["+12125550140", "+12125550141"])
    _age(services, held, "done", 45)
    _age(services, free, "done", 45)
    with services.engine.connect() as other:
        other.execute(select(OutboxJob.id).where(OutboxJob.id == held).with_for_update())
        outcome: list[int] = []
        pruning = threading.Thread(
            target=lambda: outcome.append(prune_finished_jobs(services, services.clock(), KEEP))
        )
        pruning.start()
        pruning.join(timeout=10)
        assert outcome == [1], "the prune waited for the held row"
        other.rollback()
    assert _left(services, [held, free]) == [held]

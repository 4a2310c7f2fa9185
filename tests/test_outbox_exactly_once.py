"""Three worker processes share one PostgreSQL outbox: 10,000 jobs, each runs exactly once.
And a worker killed with SIGKILL mid-batch loses nothing: its jobs come back after the lease."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import cast

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from bot.models import Event, OutboxJob
from bot.services import Services
from tests.conftest import TEST_ENCRYPTION_KEY, TEST_INDEX_KEY, require_postgres

JOBS = 10_000

# A worker process: counts each timer job it runs as an event, in the job's transaction.
WORKER = """
import asyncio, sys, time
from bot.config import Settings
from bot.events import record
from bot.outbox import load_outbox_settings, register_timer
from bot.outbox.worker import Worker
from bot.services import build_services

def count(services, session, job, now):
    record(session, "job_ran", now, data={"job": job.id, "worker": sys.argv[2]})
    if float(sys.argv[3]):
        time.sleep(float(sys.argv[3]))

register_timer("test.count", count)
settings = Settings(database_url=sys.argv[1], data_dir=sys.argv[4],
                    encryption_keys=sys.argv[5], index_key=sys.argv[6])
services = build_services(settings)
worker = Worker(services, load_outbox_settings(rate_per_second=0, lease_seconds=float(sys.argv[7]),
                                               send_timeout_seconds=0.5, batch_size=50))
async def main():
    idle = 0
    while idle < 3:
        handled = await worker.run_once()
        idle = 0 if handled else idle + 1
        if not handled:
            await asyncio.sleep(0.2)
asyncio.run(main())
"""


def add_timer_jobs(services: Services, n: int) -> None:
    now = services.clock()
    rows = [
        {
            "kind": "timer",
            "status": "pending",
            "idempotency_key": f"t:{i}",
            "due_at": now,
            "scheduled": False,
            "attempts": 0,
            "payload": {"timer": "test.count"},
            "created_at": now,
        }
        for i in range(n)
    ]
    with services.engine.begin() as connection:
        connection.execute(sa.insert(cast(sa.Table, OutboxJob.__table__)), rows)


def start_worker(
    url: str, tmp_path: Path, name: str, *, delay: float = 0.0, lease: float = 60.0
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            WORKER,
            url,
            name,
            str(delay),
            str(tmp_path / name),
            TEST_ENCRYPTION_KEY,
            TEST_INDEX_KEY,
            str(lease),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def runs_per_job(services: Services) -> dict[int, int]:
    with services.sessions() as session:
        events = session.scalars(select(Event).where(Event.kind == "job_ran")).all()
    counts: dict[int, int] = {}
    for event in events:
        counts[event.data["job"]] = counts.get(event.data["job"], 0) + 1
    return counts


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_three_workers_run_every_job_exactly_once(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    require_postgres()
    services.clock = lambda: dt.datetime.now(dt.UTC)
    add_timer_jobs(services, JOBS)
    workers = [start_worker(database_url, tmp_path, f"w{i}") for i in range(3)]
    for worker in workers:
        _, err = worker.communicate(timeout=600)
        assert worker.returncode == 0, err.decode()[-2000:]
    counts = runs_per_job(services)
    assert len(counts) == JOBS
    assert set(counts.values()) == {1}
    with services.sessions() as session:
        done = session.scalar(
            select(func.count()).select_from(OutboxJob).where(OutboxJob.status == "done")
        )
        workers_seen = {
            e.data["worker"] for e in session.scalars(select(Event).where(Event.kind == "job_ran"))
        }
    assert done == JOBS
    assert workers_seen == {"w0", "w1", "w2"}  # all three took part


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_sigkill_mid_batch_loses_no_job(
    services: Services, database_url: str, tmp_path: Path
) -> None:
    require_postgres()
    services.clock = lambda: dt.datetime.now(dt.UTC)
    add_timer_jobs(services, 200)
    slow = start_worker(database_url, tmp_path, "killed", delay=0.05, lease=2.0)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(runs_per_job(services)) < 20:
        time.sleep(0.1)
    os.kill(slow.pid, signal.SIGKILL)
    slow.wait(timeout=10)
    assert slow.stderr is not None
    slow.stderr.close()
    assert 0 < len(runs_per_job(services)) < 200  # killed in the middle of the work
    time.sleep(2.5)  # the dead worker's lease runs out
    again = start_worker(database_url, tmp_path, "again", lease=2.0)
    _, err = again.communicate(timeout=300)
    assert again.returncode == 0, err.decode()[-2000:]
    counts = runs_per_job(services)
    assert len(counts) == 200  # every job ran
    # A job's run and its "done" commit together, so even the crash duplicates nothing here
    # (a provider call is the one step outside the transaction: at most one resend per crash).
    assert set(counts.values()) == {1}

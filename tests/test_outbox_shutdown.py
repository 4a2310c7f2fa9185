"""Graceful shutdown: a stopping worker finishes the send in hand and hands the rest of its batch
back at once (not after the lease), never touching a job another worker holds. In the worker
itself, in `doorway serve`'s in-process worker, and in `doorway worker` sent SIGTERM."""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.models import Message, OutboxJob
from bot.outbox import BackgroundWorker, Worker, load_outbox_settings
from bot.outbox.claim import claim_jobs, release
from bot.services import Services
from tests.conftest import TEST_ENCRYPTION_KEY, TEST_INDEX_KEY, FakeClock
from tests.fakes.twilio_api import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    MESSAGING_SERVICE_SID,
    FakeTwilio,
    SentRequest,
    running_fake,
)
from tests.fakes.twilio_app import PERSON, attach
from tests.outbox_support import queue_texts as queue_plain

SEND_SECONDS = 0.2  # how long the fake takes over each message, so a stop lands mid-batch


@pytest.fixture
def fake(services: Services) -> Iterator[FakeTwilio]:
    with running_fake() as running:
        attach(services, running, "http://127.0.0.1:9")
        yield running


def queue_texts(services: Services, n: int) -> list[int]:
    """Queue `n` plain sends (not quiet-hours bound) to one person; returns the job ids."""
    return queue_plain(services, [PERSON] * n)


def jobs_by_id(services: Services) -> dict[int, OutboxJob]:
    with services.sessions() as session:
        return {job.id: job for job in session.scalars(select(OutboxJob))}


async def test_a_stop_sends_the_job_in_hand_and_hands_the_rest_back(
    services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    ids = queue_texts(services, 4)
    due = clock()
    clock.advance(seconds=5)  # due_at must survive the release, not become "now"
    worker = Worker(services, load_outbox_settings(rate_per_second=0))

    def stop_during_the_first_send(_request: SentRequest) -> None:
        worker.request_stop()

    fake.on_request = stop_during_the_first_send
    assert await worker.run_once() == 1
    assert [r.body for r in fake.delivered] == ["text 0"]  # finished, not cut in half
    jobs = jobs_by_id(services)
    assert jobs[ids[0]].status == "done"
    for job_id in ids[1:]:
        job = jobs[job_id]
        assert (job.status, job.claimed_until, job.attempts) == ("pending", None, 0)
        assert job.due_at == due
    assert worker.released == 3
    # Another worker takes them at once: no lease to wait out.
    assert sorted(c.job_id for c in claim_jobs(services, limit=10, lease_seconds=60)) == ids[1:]


def test_release_leaves_a_job_another_worker_holds(services: Services, clock: FakeClock) -> None:
    first, second = queue_texts(services, 2)
    mine = claim_jobs(services, limit=10, lease_seconds=60)
    clock.advance(seconds=61)  # this worker stalled past its lease...
    [theirs] = claim_jobs(services, limit=1, lease_seconds=60)  # ...and another took a job
    assert theirs.job_id == first
    assert release(services, mine) == 1
    jobs = jobs_by_id(services)
    taken = jobs[first]
    assert (taken.status, taken.claimed_until, taken.attempts) == ("running", theirs.lease, 2)
    assert (jobs[second].status, jobs[second].attempts) == ("pending", 0)


async def test_stopping_the_in_process_worker_hands_its_batch_back(
    sqlite_services: Services,
) -> None:
    services = sqlite_services
    with running_fake() as fake:
        attach(services, fake, "http://127.0.0.1:9")
        ids = queue_texts(services, 5)
        worker = BackgroundWorker(services, load_outbox_settings(rate_per_second=0))
        sending = threading.Event()

        def send_until_stopped(_request: SentRequest) -> None:
            sending.set()  # the first send is in flight until the app stops
            deadline = time.monotonic() + 10
            while not worker.worker.stopping and time.monotonic() < deadline:
                time.sleep(0.01)

        fake.on_request = send_until_stopped
        await worker.start()
        assert await asyncio.to_thread(sending.wait, 10)
        await worker.stop()  # what the app's lifespan does on shutdown
        assert len(fake.delivered) == 1
    statuses = [jobs_by_id(services)[job_id].status for job_id in ids]
    assert statuses == ["done"] + ["pending"] * 4


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_doorway_worker_mid_batch(
    sqlite_services: Services, tmp_path: Path, signum: signal.Signals
) -> None:
    services = sqlite_services
    services.clock = lambda: dt.datetime.now(dt.UTC)  # the subprocess runs on real time
    ids = queue_texts(services, 20)
    with running_fake() as fake:

        def slow_send(_request: SentRequest) -> None:
            time.sleep(SEND_SECONDS)

        fake.on_request = slow_send
        worker = subprocess.Popen(
            [sys.executable, "-m", "bot", "worker"],
            env=worker_environment(services, tmp_path, fake),
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not fake.requests and time.monotonic() < deadline and worker.poll() is None:
                time.sleep(0.02)
            if not fake.requests:
                worker.kill()
                pytest.fail(f"the worker sent nothing: {worker.communicate()[1][-2000:]}")
            worker.send_signal(signum)
            _, stderr = worker.communicate(timeout=5)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        assert worker.returncode == 0, stderr[-2000:]
        delivered = collections.Counter(r.body for r in fake.delivered)
    assert "outbox: worker stopped;" in stderr
    jobs = jobs_by_id(services)
    with services.sessions() as session:
        bodies: dict[int | None, str | None] = {
            m.id: m.body for m in session.scalars(select(Message))
        }
    done = {bodies.get(jobs[i].message_id) for i in ids if jobs[i].status == "done"}
    pending = [jobs[i] for i in ids if jobs[i].status == "pending"]
    assert {jobs[i].status for i in ids} <= {"done", "pending"}  # nothing left "running"
    assert set(delivered) == done and set(delivered.values()) == {1}  # each sent exactly once
    assert pending, "the signal did not land mid-run"
    assert all((j.claimed_until, j.attempts) == (None, 0) for j in pending)


def worker_environment(services: Services, tmp_path: Path, fake: FakeTwilio) -> dict[str, str]:
    """`doorway worker` on the test's SQLite file and keys, sending to the Twilio fake."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DOORWAY_", "TWILIO_", "TELEGRAM_"))
    }
    env.update(
        DOORWAY_DATA_DIR=str(tmp_path / "data"),
        DOORWAY_DATABASE_URL=services.settings.resolved_database_url,
        DOORWAY_ENCRYPTION_KEYS=TEST_ENCRYPTION_KEY,
        DOORWAY_INDEX_KEY=TEST_INDEX_KEY,
        DOORWAY_OUTBOX_RATE_PER_SECOND="0",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_MESSAGING_SERVICE_SID=MESSAGING_SERVICE_SID,
        TWILIO_API_BASE=fake.base_url,
    )
    return env

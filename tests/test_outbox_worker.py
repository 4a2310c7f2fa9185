"""The outbox worker on SQLite and PostgreSQL, sending through the real SDK to the fake API."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select, text

from bot.conversations import receive
from bot.crypto import Vault, generate_encryption_key, generate_index_key
from bot.db import transaction
from bot.models import ChannelIdentity, Event, Message, OutboxJob
from bot.outbox import Worker, load_outbox_settings, outbox_status, register_timer, run_once
from bot.outbox.claim import claim_jobs
from bot.outbox.settings import OutboxSettings
from bot.outbox.worker import ROUND_SECONDS
from bot.services import Services
from connectors.base import InboundMessage
from tests.conftest import FakeClock
from tests.fakes.twilio_api import Failure, FakeTwilio, running_fake
from tests.fakes.twilio_app import PERSON, attach, queue_scheduled
from tests.outbox_support import queue_texts, queue_timer, statuses

PUBLIC_URL = "http://127.0.0.1:9"  # status callbacks are not fired in these tests


@pytest.fixture
def fake(services: Services) -> Iterator[FakeTwilio]:
    with running_fake() as running:
        attach(services, running, PUBLIC_URL)
        yield running


def settings(**overrides: object) -> OutboxSettings:
    return load_outbox_settings(**{"rate_per_second": 0, **overrides})


def text_in(services: Services, text: str, sid: str, **extra: object) -> None:
    inbound = InboundMessage(
        channel="sms",
        address=PERSON,
        text=text,
        provider_id=sid,
        received_at=services.clock(),
        **extra,  # type: ignore[arg-type]
    )
    receive(services, inbound, reply_inline=False)


def jobs(services: Services) -> list[OutboxJob]:
    with services.sessions() as session:
        return list(session.scalars(select(OutboxJob).order_by(OutboxJob.id)))


def identity(services: Services) -> ChannelIdentity:
    with services.sessions() as session:
        return session.scalars(select(ChannelIdentity)).one()


def event_kinds(services: Services) -> list[str]:
    with services.sessions() as session:
        return [e.kind for e in session.scalars(select(Event).order_by(Event.id))]


async def test_queued_replies_are_sent_and_recorded(services: Services, fake: FakeTwilio) -> None:
    text_in(services, "hi", "SM1")
    assert await run_once(services, settings=settings()) == 2
    assert [r.to for r in fake.delivered] == [PERSON, PERSON]
    assert "Hi, this is Doorway Demo" in fake.delivered[0].body
    assert fake.delivered[0].form["StatusCallback"] == PUBLIC_URL + "/webhooks/twilio/status"
    assert fake.delivered[0].form["MessagingServiceSid"].startswith("MG")
    assert [j.status for j in jobs(services)] == ["done", "done"]
    with services.sessions() as session:
        out = session.scalars(select(Message).where(Message.direction == "out")).all()
    assert {m.status for m in out} == {"sent"}
    assert {m.provider_id for m in out} == {r.sid for r in fake.delivered}
    assert all(m.segments and m.segments >= 1 for m in out)
    assert event_kinds(services).count("message_sent") == 2
    assert await run_once(services, settings=settings()) == 0  # nothing twice


async def test_nothing_goes_to_an_opted_out_address(services: Services, fake: FakeTwilio) -> None:
    text_in(services, "hi", "SM1")
    text_in(services, "STOP", "SM2", provider_opt_out="STOP")  # cancels what was queued
    due = services.clock()
    queue_scheduled(services, PERSON, "How are you doing today?", due)  # queued after STOP
    await run_once(services, settings=settings())
    assert fake.requests == []
    assert {j.status for j in jobs(services)} == {"cancelled"}


async def test_our_stop_confirmation_reaches_the_opted_out_person(
    services: Services, fake: FakeTwilio
) -> None:
    text_in(services, "STOP", "SM1")  # no provider opt-out: the confirmation is ours to send
    assert identity(services).opted_out is True
    await run_once(services, settings=settings())
    [sent] = fake.delivered
    assert "You are unsubscribed from Doorway Demo" in sent.body


async def test_transient_failure_backs_off_then_succeeds(
    services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    queue_texts(services, ["+12125550160", "+12125550161"])  # two people: neither waits
    fake.fail_next(20429, status=429, times=2)
    await run_once(services, settings=settings(), limit=2)
    pending = jobs(services)
    assert [j.status for j in pending] == ["pending", "pending"]
    assert [j.attempts for j in pending] == [1, 1]
    assert all(j.due_at > clock() for j in pending)
    assert {j.last_error for j in pending} == {"20429"}
    assert await run_once(services, settings=settings()) == 0  # not due yet
    clock.advance(seconds=10)
    await run_once(services, settings=settings())
    assert len(fake.delivered) == 2
    assert [j.status for j in jobs(services)] == ["done", "done"]


async def test_a_text_waiting_for_its_retry_is_not_overtaken_by_the_next(
    services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    """Two texts to one person and the first fails for now: the second used to go at once,
    so the person read them out of order. It waits for the first's retry now."""
    person = "+12125550162"
    ids = queue_texts(services, [person, person])
    fake.fail_next(20429, status=429)
    await run_once(services, settings=settings())
    assert fake.delivered == []
    assert statuses(services, ids) == [("pending", 1), ("pending", 0)]
    clock.advance(seconds=settings().backoff_cap_seconds)
    while await run_once(services, settings=settings()):
        pass
    assert [r.body for r in fake.delivered] == ["text 0", "text 1"]


async def test_gives_up_after_the_attempt_limit(
    services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    text_in(services, "hi", "SM1")
    fake.fail_always = Failure(30001, 400)
    config = settings(max_attempts=3)
    # The second reply waits for the first to be given up (in order), then has its own tries.
    for _ in range(6):
        await run_once(services, settings=config)
        clock.advance(seconds=3600)
    assert {j.status for j in jobs(services)} == {"failed"}
    assert {j.attempts for j in jobs(services)} == {3}
    with services.sessions() as session:
        out = session.scalars(select(Message).where(Message.direction == "out")).all()
    assert {(m.status, m.error_code) for m in out} == {("failed", "30001")}
    assert event_kinds(services).count("message_failed") == 2
    assert identity(services).unreachable is False  # a queue overflow says nothing of them


async def test_permanent_error_marks_the_address_unreachable(
    services: Services, fake: FakeTwilio
) -> None:
    text_in(services, "hi", "SM1")
    fake.fail_next(21610)
    await run_once(services, settings=settings(), limit=1)
    person = identity(services)
    assert person.unreachable is True
    assert person.unreachable_reason == "21610 opted out at the carrier"
    assert [j.status for j in jobs(services)] == ["failed", "cancelled"]
    await run_once(services, settings=settings())
    assert len(fake.requests) == 1  # nothing more tried there
    assert "address_unreachable" in event_kinds(services)


async def test_a_dead_workers_jobs_come_back_after_the_lease(
    services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    text_in(services, "hi", "SM1")
    config = settings(lease_seconds=60)
    claimed = claim_jobs(services, limit=10, lease_seconds=60)  # then the worker "dies"
    assert len(claimed) == 2
    assert await run_once(services, settings=config) == 0
    clock.advance(seconds=61)
    assert await run_once(services, settings=config) == 2
    assert len(fake.delivered) == 2
    assert [j.attempts for j in jobs(services)] == [2, 2]


async def test_rate_limit_spaces_sends_per_sender(
    services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    text_in(services, "hi", "SM1")
    text_in(services, "1", "SM2")
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds=seconds)

    worker = Worker(services, load_outbox_settings(rate_per_second=1), sleep=fake_sleep)
    assert await worker.run_once() == 2  # a round takes what the pace sends in ~2 s
    assert await worker.run_once() == 1
    assert slept == [1.0, 1.0]
    with services.sessions() as session:
        times = sorted(
            m.updated_at
            for m in session.scalars(select(Message).where(Message.status == "sent"))
            if m.updated_at is not None
        )
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert gaps == [1.0, 1.0]


async def test_rate_limit_zero_means_off(
    services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    text_in(services, "hi", "SM1")

    async def no_sleep(seconds: float) -> None:
        raise AssertionError("the worker slept with the limit off")

    worker = Worker(services, load_outbox_settings(rate_per_second=0), sleep=no_sleep)
    assert await worker.run_once() == 2


async def test_scheduled_texts_wait_for_the_recipients_daytime(
    services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    text_in(services, "hi", "SM1")
    await run_once(services, settings=settings())
    sent_before = len(fake.delivered)
    # 03:00 in New York (the person's area code), a Tuesday: the window opens at 09:00.
    clock.now = dt.datetime(2026, 3, 3, 8, 0, tzinfo=dt.UTC)
    job_id = queue_scheduled(services, PERSON, "Checking in. Reply 1 to talk.", clock())
    assert await run_once(services, settings=settings()) == 1
    assert len(fake.delivered) == sent_before
    with services.sessions() as session:
        job = session.get(OutboxJob, job_id)
        assert job is not None
        assert (job.status, job.attempts) == ("pending", 0)
        assert job.due_at == dt.datetime(2026, 3, 3, 14, 0, tzinfo=dt.UTC)  # 09:00 EST
    clock.now = dt.datetime(2026, 3, 3, 14, 0, tzinfo=dt.UTC)
    await run_once(services, settings=settings())
    assert fake.delivered[-1].body == "Checking in. Reply 1 to talk."


async def test_replies_are_not_held_for_quiet_hours(
    services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    clock.now = dt.datetime(2026, 3, 3, 8, 0, tzinfo=dt.UTC)  # 03:00 in New York
    text_in(services, "hi", "SM1")
    await run_once(services, settings=settings())
    assert len(fake.delivered) == 2


async def test_a_channel_that_is_off_is_retried_not_lost(
    services: Services, fake: FakeTwilio
) -> None:
    text_in(services, "hi", "SM1")
    services.connectors.clear()
    await run_once(services, settings=settings())
    # The first reply waits for its retry; the second waits behind it, untried.
    assert [(j.status, j.last_error) for j in jobs(services)] == [
        ("pending", "channel_off"),
        ("pending", None),
    ]


def test_two_workers_never_claim_the_same_job(services: Services) -> None:
    text_in(services, "hi", "SM1")
    text_in(services, "1", "SM2")
    text_in(services, "Sam", "SM3")
    total = len(jobs(services))
    barrier = threading.Barrier(2)
    results: list[list[int]] = []

    def claim() -> None:
        barrier.wait()
        results.append([c.job_id for c in claim_jobs(services, limit=2, lease_seconds=60)])

    threads = [threading.Thread(target=claim) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first, second = results
    assert not set(first) & set(second)
    assert len(first) + len(second) == min(total, 4)


def test_outbox_status_counts(services: Services, clock: FakeClock) -> None:
    text_in(services, "hi", "SM1")
    with transaction(services.sessions) as session:
        job = session.scalars(select(OutboxJob).order_by(OutboxJob.id)).first()
        assert job is not None
        job.status = "failed"
    clock.advance(seconds=30)
    status = outbox_status(services)
    assert (status.queued, status.due, status.running, status.failed) == (1, 1, 0, 1)
    assert status.lag_seconds == 30.0


# --- one job's fault, and timers beside paced sends -------------------------------------------

fired_timers: list[int] = []


def _note(services: Services, session: object, job: OutboxJob, now: dt.datetime) -> None:
    fired_timers.append(job.id)


register_timer("test.note", _note)


def _unreadable_address(services: Services, job_id: int) -> None:
    """The address of a job's recipient, encrypted under a key this program does not hold."""
    stranger = Vault.from_keys(generate_encryption_key(), generate_index_key())
    with transaction(services.sessions) as session:
        identity_id = session.get(OutboxJob, job_id).identity_id  # type: ignore[union-attr]
        token = stranger.encrypt("+12125550199")
    with services.engine.begin() as connection:  # as stored: not through the column's type
        connection.execute(
            text("UPDATE channel_identities SET address = :token WHERE id = :id"),
            {"token": token, "id": identity_id},
        )


async def test_a_row_the_keys_cannot_read_backs_off_alone_then_fails(
    services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    people = [f"+12125550{n:03d}" for n in range(120, 124)]  # 555-01xx: fictional
    ids = queue_texts(services, people)
    _unreadable_address(services, ids[1])
    config = settings(max_attempts=2)
    assert await run_once(services, settings=config) == 4  # the round goes on
    assert statuses(services, ids) == [("done", 1), ("pending", 1), ("done", 1), ("done", 1)]
    assert sorted(r.to for r in fake.delivered) == sorted(people[:1] + people[2:])
    [stuck] = [job for job in jobs(services) if job.id == ids[1]]
    assert stuck.last_error == "error:KeysError"
    assert stuck.due_at > clock.now  # backed off, not retried at once
    clock.advance(seconds=config.backoff_cap_seconds)
    assert await run_once(services, settings=config) == 1
    assert statuses(services, [ids[1]]) == [("failed", 2)]
    with services.sessions() as session:
        message = session.get(Message, stuck.message_id)
        assert message is not None and message.status == "failed"
    assert "message_failed" in event_kinds(services)
    assert len(fake.delivered) == 3


async def test_a_due_timer_does_not_wait_behind_paced_sends(
    services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    queue_texts(services, [f"+12125550{n:03d}" for n in range(130, 140)])  # ten texts first
    clock.advance(seconds=1)
    timer = queue_timer(services, "test.note")
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(seconds=seconds)

    fired_timers.clear()
    worker = Worker(services, load_outbox_settings(rate_per_second=1), sleep=fake_sleep)
    assert await worker.run_once() == 1 + int(ROUND_SECONDS)
    assert fired_timers == [timer]  # in the first round, not after ten seconds of sends
    assert sum(slept) <= ROUND_SECONDS
    while await worker.run_once():
        pass
    assert len(fake.delivered) == 10  # every text still goes, at the pace


timer_threads: list[threading.Thread] = []


def _note_thread(services: Services, session: object, job: OutboxJob, now: dt.datetime) -> None:
    timer_threads.append(threading.current_thread())  # the object itself: ids can be reused


register_timer("test.thread", _note_thread)


async def test_rounds_reuse_the_workers_threads(services: Services, clock: FakeClock) -> None:
    """Each round used to start threads of its own: the event loop waits for every thread it
    starts, and under load that wait is for the GIL while webhooks queue."""
    timer_threads.clear()
    worker = Worker(services, settings())
    try:
        for _ in range(5):
            queue_timer(services, "test.thread")
            assert await worker.run_once(kind="timer") == 1
            clock.advance(seconds=1)
    finally:
        worker.close()
    assert len(timer_threads) == 5
    assert len({id(thread) for thread in timer_threads}) == 1


def paced_worker(services: Services, clock: FakeClock) -> Worker:
    """One text a second (a US long code), the clock moved by each pause instead of waiting;
    one job at a time, so the texts arrive in the order claimed."""

    async def fake_sleep(seconds: float) -> None:
        clock.advance(seconds=seconds)

    settings = load_outbox_settings(rate_per_second=1, concurrency=1)
    return Worker(services, settings, sleep=fake_sleep)


async def test_a_send_someone_waits_for_goes_before_the_check_ins_queued_earlier(
    services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    check_ins = [f"+12125550{n:03d}" for n in range(130, 140)]  # the morning's campaign
    queue_texts(services, check_ins, scheduled=True)
    clock.advance(seconds=30)
    queue_texts(services, [PERSON])  # then a reply (or a responder's alert)
    worker = paced_worker(services, clock)
    await worker.run_once()
    assert fake.delivered[0].to == PERSON
    while await worker.run_once():
        pass
    assert [r.to for r in fake.delivered[1:]] == check_ins  # every check-in, oldest first


@pytest.mark.parametrize(
    ("queued", "claimed_first"),
    [
        # (scheduled, seconds after the first) of each job, in the order queued
        ([(True, 0), (False, 10)], [1, 0]),  # a waiting send overtakes planned ones
        ([(False, 0), (False, 10)], [0, 1]),  # among waiting sends, the oldest first
        ([(True, 0), (True, 10)], [0, 1]),  # among planned ones too
        ([(False, 0), (True, 10), (False, 20)], [0, 2, 1]),
    ],
)
def test_claim_order(
    services: Services,
    clock: FakeClock,
    queued: list[tuple[bool, int]],
    claimed_first: list[int],
) -> None:
    start = clock()
    ids = []
    for n, (scheduled, after) in enumerate(queued):
        clock.now = start + dt.timedelta(seconds=after)
        [job_id] = queue_texts(services, [f"+12125550{140 + n}"], scheduled=scheduled)
        ids.append(job_id)
    claimed = [c.job_id for c in claim_jobs(services, limit=10, lease_seconds=60)]
    assert claimed == [ids[i] for i in claimed_first]


async def test_a_job_that_kills_its_worker_every_time_is_given_up_not_claimed_for_ever(
    services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    """A worker that dies holding a job (a message some library cannot take) leaves it to the
    lease; each claim counts an attempt, and once they are all spent the job fails instead of
    killing the next worker."""
    [job_id] = queue_texts(services, [PERSON])
    config = settings(max_attempts=3, lease_seconds=60)
    for _ in range(3):  # claimed, then its worker dies, three times
        assert [c.job_id for c in claim_jobs(services, limit=10, lease_seconds=60)] == [job_id]
        clock.advance(seconds=61)
    assert await run_once(services, settings=config) == 0
    assert fake.requests == []
    assert statuses(services, [job_id]) == [("failed", 3)]
    with services.sessions() as session:
        message = session.scalars(select(Message).where(Message.direction == "out")).one()
    assert (message.status, message.error_code) == ("failed", "error:abandoned")
    assert event_kinds(services).count("message_failed") == 1


async def test_an_abandoned_job_with_attempts_left_is_claimed_again(
    services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    [job_id] = queue_texts(services, [PERSON])
    claim_jobs(services, limit=10, lease_seconds=60)  # its worker dies
    clock.advance(seconds=61)
    assert await run_once(services, settings=settings(max_attempts=3)) == 1
    assert statuses(services, [job_id]) == [("done", 2)]
    assert len(fake.delivered) == 1

"""Jobs of one batch run side by side, on SQLite and PostgreSQL alike (no lock is held while
the provider answers), one lane per recipient so a person's messages keep their order; the
pace per sender, a stop and a failing job still behave as they do one at a time."""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.config import ConfigError
from bot.models import ChannelIdentity, Event, Message
from bot.outbox import Worker, load_outbox_settings
from bot.outbox.claim import Claim
from bot.outbox.policy import SenderPace
from bot.outbox.worker import Outcome, by_recipient
from bot.services import Services
from connectors.base import SendResult
from tests.conftest import FakeClock
from tests.fakes.telegram_harness import CHAT, Harness, text_update
from tests.fakes.twilio_api import FakeTwilio, SentRequest, running_fake
from tests.fakes.twilio_app import attach
from tests.outbox_support import queue_texts, statuses

SEND_SECONDS = 0.2  # how long the fake holds each request
PEOPLE = [f"+12125550{n:03d}" for n in range(100, 110)]  # 555-01xx: fictional


@pytest.fixture
def fake(services: Services) -> Iterator[FakeTwilio]:
    with running_fake() as running:
        attach(services, running, "http://127.0.0.1:9")
        yield running


class InFlight:
    """An `on_request` hook that holds each request `seconds` and counts how many overlap,
    overall and per recipient."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.lock = threading.Lock()
        self.now = 0
        self.most = 0
        self.to: collections.Counter[str] = collections.Counter()
        self.most_to_one = 0

    def __call__(self, request: SentRequest) -> None:
        with self.lock:
            self.now += 1
            self.to[request.to] += 1
            self.most = max(self.most, self.now)
            self.most_to_one = max(self.most_to_one, self.to[request.to])
        time.sleep(self.seconds)
        with self.lock:
            self.now -= 1
            self.to[request.to] -= 1


def worker(services: Services, **overrides: object) -> Worker:
    return Worker(services, load_outbox_settings(**{"rate_per_second": 0, **overrides}))


# --- settings and lanes ------------------------------------------------------------------------


def test_concurrency_defaults_to_8_and_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_outbox_settings().concurrency == 8
    monkeypatch.setenv("DOORWAY_OUTBOX_CONCURRENCY", "3")
    assert load_outbox_settings().concurrency == 3
    monkeypatch.setenv("DOORWAY_OUTBOX_CONCURRENCY", "0")
    with pytest.raises(ConfigError, match="DOORWAY_OUTBOX_CONCURRENCY"):
        load_outbox_settings()


def test_lanes_keep_each_recipients_jobs_in_order_and_give_each_timer_its_own() -> None:
    lease = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    claims = [
        Claim(1, lease, "sms", 10, "send"),
        Claim(2, lease, None, None, "timer"),
        Claim(3, lease, "sms", 11, "send"),
        Claim(4, lease, "sms", 10, "send"),
        Claim(5, lease, None, None, "timer"),
        Claim(6, lease, "sms", 10, "send"),
    ]
    lanes = [[claim.job_id for claim in lane] for lane in by_recipient(claims)]
    assert lanes == [[1, 4, 6], [2], [3], [5]]


# --- side by side, in order ------------------------------------------------------------------


async def test_sends_to_different_people_go_side_by_side(
    services: Services, fake: FakeTwilio
) -> None:
    queue_texts(services, PEOPLE[:8])
    fake.on_request = in_flight = InFlight(SEND_SECONDS)
    started = time.perf_counter()
    assert await worker(services).run_once() == 8
    elapsed = time.perf_counter() - started
    assert len(fake.delivered) == 8
    assert in_flight.most > 1
    assert elapsed < 8 * SEND_SECONDS / 2  # one after another would take 1.6 s


async def test_one_persons_messages_go_in_queued_order_one_at_a_time(
    services: Services, fake: FakeTwilio
) -> None:
    person, *others = PEOPLE[:4]
    order = [person, others[0], person, others[1], others[2], person]
    first = queue_texts(services, order)[0]
    fake.on_request = in_flight = InFlight(SEND_SECONDS / 2)
    outbox = worker(services, concurrency=8)
    process = outbox.process

    def slow_start_for_the_first(claim: Claim, loop: asyncio.AbstractEventLoop) -> Outcome:
        if claim.job_id == first:
            time.sleep(SEND_SECONDS)  # before the person's lock: a later text could overtake
        return process(claim, loop)

    outbox.process = slow_start_for_the_first  # type: ignore[method-assign]
    assert await outbox.run_once() == 6
    to_person = [r.body for r in fake.requests if r.to == person]
    assert to_person == ["text 0", "text 2", "text 5"]
    assert in_flight.most_to_one == 1


async def test_concurrency_1_sends_one_at_a_time_in_queued_order(
    services: Services, fake: FakeTwilio
) -> None:
    queue_texts(services, PEOPLE[:4])
    fake.on_request = in_flight = InFlight(SEND_SECONDS / 4)
    assert await worker(services, concurrency=1).run_once() == 4
    assert [r.body for r in fake.requests] == ["text 0", "text 1", "text 2", "text 3"]
    assert in_flight.most == 1


# --- the pace per sender -----------------------------------------------------------------------


def test_a_reserved_slot_is_never_handed_out_twice(clock: FakeClock) -> None:
    pace = SenderPace(per_second=2, clock=clock)
    first, second, third = (pace.reserve("sms") for _ in range(3))
    assert [first.wait, second.wait, third.wait] == [0.0, 0.5, 1.0]
    assert pace.reserve("telegram").wait == 0.0  # another sender has its own slots
    pace.give_back(second)  # a later slot is taken: giving this one back would share it
    assert pace.reserve("sms").wait == 1.5
    clock.advance(seconds=5)
    unused = pace.reserve("sms")
    pace.give_back(unused)  # the latest slot, not sent in: the next job may have it
    assert pace.reserve("sms").wait == 0.0
    assert SenderPace(per_second=0, clock=clock).reserve("sms").wait == 0.0


@pytest.mark.parametrize(
    ("sender", "waits"),
    [
        ("sms", [0.0, 1.0, 2.0]),  # a US long code: one text a second
        ("telegram", [0.0, 0.1, 0.2]),  # its own pace
        ("web", [0.0, 1.0, 2.0]),  # a channel without one: the default
        ("console", [0.0, 0.0, 0.0]),  # a channel's own 0: no limit there
    ],
)
def test_each_channel_keeps_its_own_pace(clock: FakeClock, sender: str, waits: list[float]) -> None:
    pace = SenderPace(per_second=1, clock=clock, per_channel={"telegram": 10, "console": 0})
    assert [pace.reserve(sender).wait for _ in waits] == pytest.approx(waits)


async def test_telegram_replies_are_not_held_to_the_sms_pace(tg: Harness) -> None:
    """Telegram replies go through the outbox. At the SMS pace of one a second, the last of
    six people writing at once waited eleven seconds for the last of twelve replies;
    Telegram's own pace lets a bot send about thirty a second."""
    services = tg.services
    for n in range(6):
        response = await tg.post(text_update(100 + n, "hi", chat=CHAT + n))
        assert response.status_code == 200
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    settings = load_outbox_settings(rate_per_second=1, batch_size=50)
    worker = Worker(services, settings, sleep=fake_sleep)
    try:
        while await worker.run_once():
            pass
    finally:
        worker.close()
    sent = tg.fake.calls_to("sendMessage")
    assert len({call.params["chat_id"] for call in sent}) == 6
    # The clock stands still, so each wait is the slot's distance from the first send.
    assert max(slept) == pytest.approx((len(sent) - 1) / 30, abs=1e-3)


async def test_concurrent_jobs_each_wait_for_their_own_slot(
    services: Services, fake: FakeTwilio
) -> None:
    queue_texts(services, PEOPLE[:4])
    waits: list[float] = []

    async def note_sleep(seconds: float) -> None:
        waits.append(seconds)  # the clock stands still: only a reservation spaces the jobs
        await asyncio.sleep(0)

    # Two a second: a round takes the four texts (what the pace sends in about two seconds).
    outbox = Worker(services, load_outbox_settings(rate_per_second=2), sleep=note_sleep)
    assert outbox.concurrency > 1
    assert await outbox.run_once() == 4
    assert sorted(waits) == [0.5, 1.0, 1.5]


# --- a stop and an error end the round cleanly -------------------------------------------------


async def test_a_stop_lets_jobs_in_flight_finish_and_hands_the_rest_back(
    services: Services, fake: FakeTwilio
) -> None:
    ids = queue_texts(services, PEOPLE[:6])
    outbox = worker(services, concurrency=2)
    in_flight = InFlight(SEND_SECONDS)

    def stop_then_send(request: SentRequest) -> None:
        outbox.request_stop()
        in_flight(request)

    fake.on_request = stop_then_send
    assert await outbox.run_once() == 2
    assert len(fake.delivered) == 2
    assert statuses(services, ids) == [("done", 1)] * 2 + [("pending", 0)] * 4
    assert outbox.released == 4


def first_job_raises(services: Services, fake: FakeTwilio) -> tuple[list[int], Worker]:
    """Six texts queued, two jobs at once, and the first job raising when it runs."""
    ids = queue_texts(services, PEOPLE[:6])
    fake.on_request = InFlight(SEND_SECONDS)
    outbox = worker(services, concurrency=2)
    check = outbox._check

    def fail_the_first(claim: Claim) -> Outcome | object:
        if claim.job_id == ids[0]:
            raise RuntimeError("a fault of this one job, or the database went away")
        return check(claim)

    outbox._check = fail_the_first  # type: ignore[method-assign,assignment]
    return ids, outbox


async def test_a_job_that_raises_backs_off_alone_and_the_others_are_sent(
    services: Services, fake: FakeTwilio
) -> None:
    ids, outbox = first_job_raises(services, fake)
    assert await outbox.run_once() == 6
    assert statuses(services, ids) == [("pending", 1)] + [("done", 1)] * 5
    assert sorted(r.body for r in fake.delivered) == [f"text {i}" for i in range(1, 6)]


async def test_when_even_the_backoff_cannot_be_written_the_round_fails(
    services: Services, fake: FakeTwilio
) -> None:
    ids, outbox = first_job_raises(services, fake)

    def cannot_write(claim: Claim, exc: Exception) -> Outcome:
        raise RuntimeError("the database is still away")

    outbox._crashed = cannot_write  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        await outbox.run_once()
    # The failed job waits out its lease, as before; the one beside it was sent.
    assert statuses(services, ids) == [("running", 1), ("done", 1)] + [("pending", 0)] * 4
    assert [r.body for r in fake.delivered] == ["text 1"]


def answer_not_recorded(outbox: Worker) -> None:
    """The first send's answer cannot be written: the database fails after the provider has
    taken the message (the same fault as above, one step later)."""
    finish = outbox._finish

    def fails_once(claim: Claim, checked: Any, result: SendResult) -> Outcome:
        outbox._finish = finish  # type: ignore[method-assign]
        raise RuntimeError("the database went away after the provider said yes")

    outbox._finish = fails_once  # type: ignore[method-assign]


async def test_a_send_whose_answer_cannot_be_written_is_recorded_not_sent_again(
    services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    ids = queue_texts(services, PEOPLE[:1])
    outbox = worker(services)
    answer_not_recorded(outbox)
    assert await outbox.run_once() == 1
    clock.advance(minutes=30)  # past any back-off and lease
    assert await outbox.run_once() == 0
    [sent] = fake.delivered
    assert statuses(services, ids) == [("done", 1)]
    with services.sessions() as session:
        message = session.scalars(select(Message).where(Message.direction == "out")).one()
        identity = session.get(ChannelIdentity, message.identity_id)
        kinds = session.scalars(select(Event.kind)).all()
    assert (message.status, message.provider_id) == ("sent", sent.sid)
    assert identity is not None and identity.sending_until is None  # the next text may go
    assert kinds.count("message_sent") == 1


async def test_a_refused_send_whose_answer_cannot_be_written_is_tried_again(
    services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    ids = queue_texts(services, PEOPLE[:1])
    fake.fail_next(20429, status=429)
    outbox = worker(services)
    answer_not_recorded(outbox)
    await outbox.run_once()
    assert statuses(services, ids) == [("pending", 1)]  # backed off, as any raise is
    clock.advance(minutes=30)
    assert await outbox.run_once() == 1
    assert statuses(services, ids) == [("done", 2)]
    assert len(fake.delivered) == 1


async def test_on_sqlite_the_check_runs_on_the_loop_and_the_send_in_a_job_thread(
    services: Services, fake: FakeTwilio
) -> None:
    """The check is database work only: on SQLite it takes the writer lock's background turn
    on the event loop. The send may wait on the provider, so it never runs there."""
    queue_texts(services, PEOPLE[:2])
    outbox = worker(services)
    check, send = outbox._check, outbox._send
    ran: dict[str, set[int]] = collections.defaultdict(set)

    def checked(claim: Claim) -> Any:
        ran["check"].add(threading.get_ident())
        return check(claim)

    def sent(claim: Claim, checked: Any, loop: asyncio.AbstractEventLoop) -> Outcome:
        ran["send"].add(threading.get_ident())
        return send(claim, checked, loop)

    outbox._check = checked  # type: ignore[method-assign]
    outbox._send = sent  # type: ignore[method-assign]
    assert await outbox.run_once() == 2
    assert len(fake.delivered) == 2
    loop = threading.get_ident()
    on_loop = services.engine.dialect.name == "sqlite"
    assert ran["check"] == ({loop} if on_loop else ran["send"])
    assert loop not in ran["send"]

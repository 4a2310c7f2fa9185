"""Follow-up campaigns end to end: enrol, the worker's timers and sends (through the Twilio
fake), quiet hours in the recipient's zone, DST, stop rules and replies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.config import load_program
from bot.conversations import receive
from bot.db import transaction
from bot.followup.campaign import planned_at
from bot.followup.enrolment import EnrolmentFields, enroll_one
from bot.followup.stops import stop
from bot.followup.teams import add_team
from bot.models import Conversation, Event, FollowupEnrolment, Handoff, OutboxJob
from bot.outbox import load_outbox_settings, run_once
from bot.paths import dialogues_dir
from bot.services import Services
from connectors.base import InboundMessage
from tests.conftest import FakeClock
from tests.fakes.twilio_api import FakeTwilio, running_fake
from tests.fakes.twilio_app import attach

NEW_YORK = "+12125550123"  # 212: America/New_York; 555-01xx numbers are fictional
LOS_ANGELES = "+12135550123"  # 213: America/Los_Angeles
HONOLULU = "+18085550123"  # 808: Pacific/Honolulu
TEAM = "QRT North"
PROGRAM = load_program(dialogues_dir() / "program.demo.yaml")


@pytest.fixture
def fake(sqlite_services: Services) -> Iterator[FakeTwilio]:
    with running_fake() as running:
        attach(sqlite_services, running, "http://127.0.0.1:9")
        yield running


def add_qrt(services: Services) -> None:
    with transaction(services.sessions) as session:
        add_team(session, TEAM, services.clock())


def enrol(
    services: Services,
    phone: str = NEW_YORK,
    *,
    event: dt.datetime | None = None,
    **extra: str,
) -> FollowupEnrolment:
    fields = EnrolmentFields.model_validate(
        {
            "phone": phone,
            "language": "en",
            "event_time": (event or services.clock() - dt.timedelta(hours=1)).isoformat(),
            "consent": "scene",
            "consent_by": "Officer Diaz",
            **extra,
        }
    )
    return enroll_one(services, fields, team=TEAM, source="cli").enrolment


async def drain(services: Services) -> None:
    """Worker rounds until nothing is due (a timer queues a send for the next round)."""
    settings = load_outbox_settings(rate_per_second=0)
    for _ in range(10):
        if not await run_once(services, settings=settings):
            return


def text_in(services: Services, text: str, sid: str, address: str = NEW_YORK) -> list[str]:
    inbound = InboundMessage(
        channel="sms", address=address, text=text, provider_id=sid, received_at=services.clock()
    )
    return [r.text for r in receive(services, inbound, reply_inline=True).replies]


def enrolment(services: Services, enrolment_id: int) -> FollowupEnrolment:
    with services.sessions() as session:
        found = session.get(FollowupEnrolment, enrolment_id)
        assert found is not None
        return found


def kinds(services: Services, prefix: str = "followup_") -> list[str]:
    with services.sessions() as session:
        events = session.scalars(select(Event).order_by(Event.id))
        return [e.kind for e in events if e.kind.startswith(prefix)]


# --- quiet hours in the recipient's zone -----------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "zone"),
    [
        (NEW_YORK, "America/New_York"),  # 02:00 EST is 07:00 UTC
        (LOS_ANGELES, "America/Los_Angeles"),  # 02:00 PST is 10:00 UTC
        (HONOLULU, "Pacific/Honolulu"),  # 02:00 HST is 12:00 UTC, no DST
    ],
)
async def test_enrolled_at_two_in_the_morning_the_first_text_goes_at_nine_local(
    sqlite_services: Services, fake: FakeTwilio, clock: FakeClock, phone: str, zone: str
) -> None:
    local = ZoneInfo(zone)
    clock.now = dt.datetime(2026, 3, 3, 2, 0, tzinfo=local).astimezone(dt.UTC)
    add_qrt(sqlite_services)
    made = enrol(sqlite_services, phone)
    nine = dt.datetime(2026, 3, 3, 9, 0, tzinfo=local).astimezone(dt.UTC)
    assert made.next_due_at == nine

    clock.now = nine - dt.timedelta(minutes=1)
    await drain(sqlite_services)
    assert fake.delivered == []

    clock.now = nine
    await drain(sqlite_services)
    [sent] = fake.delivered
    assert sent.to == phone
    assert "this is Doorway Demo" in sent.body
    assert "Msg&data rates may apply" in sent.body
    assert "Reply STOP to cancel, HELP for help" in sent.body
    assert "overdose" not in sent.body.lower()


async def test_a_time_zone_given_at_enrolment_wins_over_the_area_code(
    sqlite_services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    pacific = ZoneInfo("America/Los_Angeles")
    clock.now = dt.datetime(2026, 3, 3, 7, 0, tzinfo=pacific).astimezone(dt.UTC)  # 10:00 in NY
    add_qrt(sqlite_services)
    made = enrol(sqlite_services, NEW_YORK, time_zone="America/Los_Angeles")
    assert made.next_due_at == dt.datetime(2026, 3, 3, 9, 0, tzinfo=pacific).astimezone(dt.UTC)


def test_day_n_check_ins_keep_the_local_time_across_dst() -> None:
    new_york = (ZoneInfo("America/New_York"),)
    # Friday 6 March 2026, 15:00 EST; clocks go forward on Sunday 8 March.
    event = dt.datetime(2026, 3, 6, 20, 0, tzinfo=dt.UTC)
    day3 = planned_at(PROGRAM, event, 1, new_york, event)
    assert day3 == dt.datetime(2026, 3, 9, 14, 0, tzinfo=dt.UTC)  # 10:00 EDT, not 11:00
    # Friday 30 October 2026, 10:00 EDT; clocks go back on Sunday 1 November.
    event = dt.datetime(2026, 10, 30, 14, 0, tzinfo=dt.UTC)
    day3 = planned_at(PROGRAM, event, 1, new_york, event)
    assert day3 == dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC)  # 10:00 EST, not 09:00
    # Enrolled at 01:30 EST on the night the clocks jump: 09:00 is already EDT.
    night = dt.datetime(2026, 3, 8, 6, 30, tzinfo=dt.UTC)
    assert planned_at(PROGRAM, night, 0, new_york, night) == dt.datetime(
        2026, 3, 8, 13, 0, tzinfo=dt.UTC
    )


async def test_the_whole_cadence_runs_eight_weeks_inside_the_window(
    sqlite_services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    add_qrt(sqlite_services)
    made = enrol(sqlite_services)
    for _ in range(24 * 62):
        clock.advance(hours=1)
        await drain(sqlite_services)
    local = [r for r in fake.delivered]
    assert len(local) == len(PROGRAM.followup.cadence_days) == 6
    assert enrolment(sqlite_services, made.id).status == "completed"
    with sqlite_services.sessions() as session:
        sent_at = [
            e.created_at
            for e in session.scalars(select(Event).where(Event.kind == "followup_step_sent"))
        ]
    zone = ZoneInfo("America/New_York")
    assert all(dt.time(9) <= t.astimezone(zone).time() < dt.time(20) for t in sent_at)
    days = [(t - made.event_at).days for t in sent_at]
    assert days == [0, 3, 7, 14, 30, 60]  # the event was at 09:00; check-ins at 10:00 local
    assert "Reply STOP to cancel" in fake.delivered[-1].body
    assert kinds(sqlite_services)[-1] == "followup_completed"


async def test_a_late_enrolment_skips_steps_too_close_to_the_first_text(
    sqlite_services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    add_qrt(sqlite_services)
    made = enrol(sqlite_services, event=clock.now - dt.timedelta(days=4))
    await drain(sqlite_services)
    assert len(fake.delivered) == 1
    assert enrolment(sqlite_services, made.id).next_step == 2  # day 7; day 3 went by
    assert kinds(sqlite_services) == [
        "followup_enrolled",
        "followup_step_sent",
        "followup_step_skipped",
    ]


# --- stop rules ------------------------------------------------------------------------------


@pytest.mark.parametrize("timer_ran", [False, True])
async def test_a_stop_arriving_while_a_step_is_due_sends_nothing(
    services: Services, clock: FakeClock, timer_ran: bool
) -> None:
    with running_fake() as fake:
        attach(services, fake, "http://127.0.0.1:9")
        add_qrt(services)
        made = enrol(services)
        if timer_ran:
            # The step's text is queued but not yet sent when STOP arrives.
            await run_once(services, limit=1, settings=load_outbox_settings(rate_per_second=0))
        assert text_in(services, "STOP", "SMstop")
        clock.advance(days=70)
        await drain(services)
        assert fake.delivered == []
    after = enrolment(services, made.id)
    assert (after.status, after.stop_reason) == ("stopped", "opt_out")
    with services.sessions() as session:
        pending = session.scalars(select(OutboxJob).where(OutboxJob.status == "pending")).all()
    assert pending == []
    assert "followup_stopped" in kinds(services)


async def test_staff_stop_cancels_the_next_step(
    sqlite_services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    add_qrt(sqlite_services)
    made = enrol(sqlite_services)
    await drain(sqlite_services)
    with transaction(sqlite_services.sessions) as session:
        row = session.get(FollowupEnrolment, made.id)
        assert row is not None
        assert stop(session, row, "staff", clock.now)
    clock.advance(days=70)
    await drain(sqlite_services)
    assert len(fake.delivered) == 1
    assert enrolment(sqlite_services, made.id).stop_reason == "staff"


async def test_a_completed_handoff_stops_the_follow_up(
    sqlite_services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    add_qrt(sqlite_services)
    made = enrol(sqlite_services)
    await drain(sqlite_services)
    with transaction(sqlite_services.sessions) as session:
        session.add(
            Handoff(
                code="TEST",
                contact_id=made.contact_id,
                status="completed",
                kind="intake",
                urgency="routine",
                pathway="naloxone_plus",
                language="en",
                channel="sms",
                created_at=clock.now,
            )
        )
    clock.advance(days=4)
    await drain(sqlite_services)
    assert len(fake.delivered) == 1
    assert enrolment(sqlite_services, made.id).stop_reason == "handoff_completed"


# --- replies ---------------------------------------------------------------------------------


async def test_yes_to_a_check_in_asks_for_a_coach_on_the_team_pathway(
    services: Services, clock: FakeClock
) -> None:
    with running_fake() as fake:
        attach(services, fake, "http://127.0.0.1:9")
        add_qrt(services)
        made = enrol(services)
        await drain(services)
        assert len(fake.delivered) == 1
    clock.advance(hours=2)
    replies = text_in(services, "YES", "SMyes")
    assert any("peer recovery coach will reach out" in r for r in replies)
    with services.sessions() as session:
        conversation = session.scalars(select(Conversation)).one()
        handoff = session.scalars(select(Handoff)).one()
    assert (conversation.dialogue_id, conversation.pathway, conversation.referral_team) == (
        "followup",
        "naloxone_plus",
        TEAM,
    )
    assert (handoff.pathway, handoff.kind, handoff.urgency) == (
        "naloxone_plus",
        "talk_to_person",
        "today",
    )
    after = enrolment(services, made.id)
    assert (after.status, after.stop_reason) == ("stopped", "coach_requested")
    assert kinds(services)[-2:] == ["followup_replied", "followup_stopped"]
    with services.sessions() as session:
        replied = session.scalars(select(Event).where(Event.kind == "followup_replied")).one()
    assert replied.data["seconds_after_step"] == 7200
    assert replied.data["step"] == 0


async def test_keep_checking_in_continues_and_a_later_reply_answers_the_next_check_in(
    sqlite_services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    add_qrt(sqlite_services)
    made = enrol(sqlite_services)
    await drain(sqlite_services)
    replies = text_in(sqlite_services, "4", "SM1")  # "Just keep checking in"
    assert any("keep checking in" in r for r in replies)
    assert enrolment(sqlite_services, made.id).status == "active"
    clock.advance(days=3)
    await drain(sqlite_services)
    assert len(fake.delivered) == 2
    text_in(sqlite_services, "yes", "SM2")
    with sqlite_services.sessions() as session:
        conversations = session.scalars(select(Conversation).order_by(Conversation.id)).all()
        assert session.scalars(select(Handoff)).one().pathway == "naloxone_plus"
    assert [c.dialogue_id for c in conversations] == ["followup", "followup"]
    assert enrolment(sqlite_services, made.id).stop_reason == "coach_requested"


async def test_asking_for_information_stops_the_check_ins(
    sqlite_services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    add_qrt(sqlite_services)
    made = enrol(sqlite_services)
    await drain(sqlite_services)
    replies = text_in(sqlite_services, "3", "SM1")
    assert any("What would you like to know about?" in r for r in replies)
    assert enrolment(sqlite_services, made.id).stop_reason == "information"


async def test_a_crisis_in_a_reply_gets_the_crisis_answer_and_an_urgent_handoff(
    sqlite_services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    add_qrt(sqlite_services)
    made = enrol(sqlite_services)
    await drain(sqlite_services)
    replies = text_in(sqlite_services, "I want to kill myself", "SM1")
    assert any("988" in r for r in replies)
    with sqlite_services.sessions() as session:
        assert session.scalars(select(Handoff)).one().urgency == "crisis"
    # A crisis does not end the check-ins; the open handoff pauses them.
    assert enrolment(sqlite_services, made.id).status == "active"


async def test_a_message_before_any_check_in_goes_to_the_intake(
    sqlite_services: Services, fake: FakeTwilio, clock: FakeClock
) -> None:
    clock.now = dt.datetime(2026, 3, 3, 7, 0, tzinfo=dt.UTC)  # 02:00 in New York: held
    add_qrt(sqlite_services)
    enrol(sqlite_services)
    text_in(sqlite_services, "hello", "SM1")
    with sqlite_services.sessions() as session:
        assert session.scalars(select(Conversation)).one().dialogue_id == "intake"

"""The warm handoff end to end over signed SMS webhooks and the Twilio fake: request, alert,
accept, relay both ways, done, outcome; and the rules around it (decline, timeout, escalation,
double accept, opt-out)."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.db import transaction
from bot.handoff.coach import handle as coach_handle
from bot.models import Event, Handoff, HandoffOffer, Responder, Shift
from bot.outbox import Worker, load_outbox_settings, run_once
from bot.services import Services
from bot.web.app import create_app
from connectors.twilio_sms import INBOUND_PATH
from tests.conftest import FakeClock
from tests.fakes.twilio_api import FakeTwilio, running_fake
from tests.fakes.twilio_app import PERSON, attach, inbound_form, signed_post
from tests.outbox_support import queue_texts

MAYA = "+12125550177"
JO = "+12125550178"
SUPERVISOR = "+12125550179"
PUBLIC = "http://testserver"
INTAKE = ["hi", "1", "Sam", "yes", "call me", "Afternoon", "1"]


def add_responder(
    services: Services,
    name: str,
    phone: str,
    role: str = "peer_recovery_coach",
    languages: tuple[str, ...] = ("en",),
) -> int:
    with transaction(services.sessions) as session:
        responder = Responder(
            name=name,
            display_name=name.split()[0],
            role=role,
            languages=list(languages),
            skills=[],
            capacity=3,
            active=True,
            sms_phone=phone,
            sms_index=services.vault.blind_index("sms", phone),
            created_at=services.clock(),
        )
        session.add(responder)
        session.flush()
        for day in range(7):  # on call around the clock
            session.add(
                Shift(
                    responder_id=responder.id,
                    kind="weekly",
                    weekday=day,
                    start_time=dt.time(0),
                    end_time=dt.time(0),
                    available=True,
                )
            )
        return responder.id


@dataclass
class Line:
    """The hotline as the test drives it: signed webhooks in, the worker out."""

    services: Services
    client: TestClient
    fake: FakeTwilio
    clock: FakeClock
    sid: int = 0

    def text(self, body: str, sender: str = PERSON) -> None:
        self.sid += 1
        form = inbound_form(body, f"SM{self.sid:032x}", sender=sender)
        response = signed_post(self.client, INBOUND_PATH, form, public_url=PUBLIC)
        assert response.status_code == 200, response.text

    def work(self) -> list[tuple[str, str]]:
        """Run the worker until nothing is due; what the fake received, as (to, body)."""
        before = len(self.fake.requests)
        settings = load_outbox_settings(rate_per_second=0)
        while asyncio.run(run_once(self.services, settings=settings)):
            pass
        return [(r.to, r.body) for r in self.fake.requests[before:]]


@pytest.fixture
def line(services: Services, clock: FakeClock) -> Iterator[Line]:
    with running_fake() as fake:
        connector = attach(services, fake, PUBLIC)
        with TestClient(create_app(services, [connector])) as client:
            yield Line(services, client, fake, clock)


def to(sent: list[tuple[str, str]], number: str) -> list[str]:
    return [body for who, body in sent if who == number]


def handoff(services: Services) -> Handoff:
    with services.sessions() as session:
        return session.scalars(select(Handoff)).one()


def test_request_alert_accept_relay_done_outcome(line: Line) -> None:
    add_responder(line.services, "Maya Lopez", MAYA)
    for body in INTAKE:
        line.text(body)
    sent = line.work()
    alert = to(sent, MAYA)
    code = handoff(line.services).code
    assert len(alert) == 1
    assert f"New request {code} (today): Sam, English." in alert[0]
    assert "Contact: call them, afternoon" in alert[0]
    assert f"Reply A {code} to accept" in alert[0]
    assert PERSON not in alert[0]

    line.clock.advance(minutes=2)
    line.text("A", sender=MAYA)
    sent = line.work()
    assert "Good news: Maya, a peer recovery coach from Doorway Demo" in to(sent, PERSON)[0]
    assert f"You have request {code}" in to(sent, MAYA)[0]
    assert handoff(line.services).status == "accepted"

    line.text("Hi Sam, this is Maya. Is now a good time to call?", sender=MAYA)
    sent = line.work()
    assert to(sent, PERSON) == ["Hi Sam, this is Maya. Is now a good time to call?"]
    assert handoff(line.services).status == "connected"

    line.text("yes please call me now")
    sent = line.work()
    assert to(sent, MAYA) == [f"{code} Sam: yes please call me now"]
    assert to(sent, PERSON) == []  # the bot stays quiet during the relay

    line.text("DONE", sender=MAYA)
    sent = line.work()
    assert "Thank you for talking with us" in to(sent, PERSON)[0]
    assert f"How did request {code} go?" in to(sent, MAYA)[0]
    line.text("1", sender=MAYA)
    line.work()
    closed = handoff(line.services)
    assert (closed.status, closed.outcome) == ("completed", "connected")
    with line.services.sessions() as session:
        kinds = [e.kind for e in session.scalars(select(Event).order_by(Event.id))]
    for kind in (
        "handoff_requested",
        "offer_sent",
        "handoff_accepted",
        "handoff_connected",
        "relay_to_person",
        "relay_to_responder",
        "relay_closed",
        "handoff_closed",
    ):
        assert kind in kinds


def test_the_alert_goes_before_the_mornings_check_ins(line: Line) -> None:
    """At one text a second, ten follow-up check-ins queued first would hold the responder's
    alert back ten seconds (600 of them, ten minutes): it goes in the next round instead."""
    add_responder(line.services, "Maya Lopez", MAYA)
    check_ins = [f"+12125550{n:03d}" for n in range(130, 140)]
    queue_texts(line.services, check_ins, scheduled=True)
    for body in INTAKE:
        line.text(body)

    async def fake_sleep(seconds: float) -> None:
        line.clock.advance(seconds=seconds)

    settings = load_outbox_settings(rate_per_second=1, concurrency=1)
    worker = Worker(line.services, settings, sleep=fake_sleep)
    asyncio.run(worker.run_once())  # routes the handoff; the first two check-ins go
    asyncio.run(worker.run_once())
    sent = [r.to for r in line.fake.requests]
    assert sent[:3] == [*check_ins[:2], MAYA]
    while asyncio.run(worker.run_once()):
        pass
    assert sorted(r.to for r in line.fake.requests[3:]) == check_ins[2:]


def test_decline_moves_to_the_next_responder(line: Line) -> None:
    add_responder(line.services, "Maya Lopez", MAYA)
    add_responder(line.services, "Jo Park", JO)
    for body in INTAKE:
        line.text(body)
    first = line.work()
    first_to = MAYA if to(first, MAYA) else JO
    other = JO if first_to == MAYA else MAYA
    assert to(first, other) == []
    line.text("N", sender=first_to)
    sent = line.work()
    assert "we will offer" in to(sent, first_to)[0]
    assert "New request" in to(sent, other)[0]


def test_timeout_offers_the_next_then_escalates_then_tells_the_person(line: Line) -> None:
    add_responder(line.services, "Maya Lopez", MAYA)
    add_responder(line.services, "Bo Supervisor", SUPERVISOR, role="supervisor")
    for body in INTAKE:
        line.text(body)
    assert to(line.work(), MAYA)
    line.clock.advance(minutes=6)
    sent = line.work()
    assert any("Nobody has taken request" in b for b in to(sent, SUPERVISOR))
    line.clock.advance(minutes=6)
    sent = line.work()
    assert any("We are still finding someone for you" in b for b in to(sent, PERSON))
    still = handoff(line.services)
    assert still.status == "requested" and still.escalated_at is not None
    with line.services.sessions() as session:
        offers = [(o.status, o.escalation) for o in session.scalars(select(HandoffOffer))]
    assert offers == [("expired", False), ("expired", True)]


def test_nobody_on_call_gets_the_honest_truth(line: Line) -> None:
    for body in INTAKE:
        line.text(body)
    sent = to(line.work(), PERSON)
    assert any("Nobody is on call right now" in b and "+1 555 0100" in b for b in sent), sent


def test_opted_out_person_gets_no_relay(line: Line) -> None:
    add_responder(line.services, "Maya Lopez", MAYA)
    for body in INTAKE:
        line.text(body)
    line.work()
    line.text("A", sender=MAYA)
    line.work()
    line.text("STOP")
    sent = line.work()
    assert any("asked us to stop messaging them" in b for b in to(sent, MAYA))
    line.text("Are you still there?", sender=MAYA)
    sent = line.work()
    assert to(sent, PERSON) == []


def test_two_accepts_at_once_exactly_one_wins(services: Services, clock: FakeClock) -> None:
    """Real concurrent transactions (on PostgreSQL they race on the row; SQLite serialises)."""
    services.program = services.program.model_copy(
        update={"handoff": services.program.handoff.model_copy(update={"offer_mode": "broadcast"})}
    )
    with running_fake() as fake:
        attach(services, fake, PUBLIC)
        ids = [add_responder(services, f"Coach {n}", f"+1212555018{n}") for n in range(2)]
        with TestClient(create_app(services, [services.connectors["sms"]])) as client:
            line = Line(services, client, fake, clock)
            for body in INTAKE:
                line.text(body)
            line.work()
        code = handoff(services).code
        barrier = threading.Barrier(2)

        def accept(responder_id: int) -> None:
            barrier.wait()
            with transaction(services.sessions) as session:
                responder = session.get(Responder, responder_id)
                assert responder is not None
                coach_handle(services, session, responder, f"A {code}", clock())

        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(accept, ids))
        with services.sessions() as session:
            won = session.scalars(select(Handoff)).one()
            statuses = sorted(o.status for o in session.scalars(select(HandoffOffer)))
        assert won.status == "accepted" and won.responder_id in ids
        assert statuses == ["accepted", "taken"]


def weekday_shifts(services: Services, responder_id: int) -> None:
    """Replace round-the-clock shifts by Monday-Friday 9:00-17:00 (program time zone)."""
    with transaction(services.sessions) as session:
        for shift in session.scalars(select(Shift).where(Shift.responder_id == responder_id)):
            session.delete(shift)
        for day in range(5):
            session.add(
                Shift(
                    responder_id=responder_id,
                    kind="weekly",
                    weekday=day,
                    start_time=dt.time(9),
                    end_time=dt.time(17),
                    available=True,
                )
            )


SCHEDULE = ["hi", "2", "Sam", "yes", "call me", "skip", "1"]


def test_booking_a_time_confirm_invite_reminder(line: Line) -> None:
    maya = add_responder(line.services, "Maya Lopez", MAYA)
    weekday_shifts(line.services, maya)  # clock: Monday 10:00 in New York
    for body in SCHEDULE:
        line.text(body)
    offer = to(line.work(), PERSON)
    assert len(offer) == 1
    assert offer[0].startswith("When would you like to talk? Pick a time:")
    assert "1. today, 11:00 AM\n2. today, 12:00 PM\n3. today, 1:00 PM" in offer[0]
    line.text("2")
    sent = line.work()
    assert to(sent, PERSON) == [
        "You're booked: today, 12:00 PM with Maya, a peer recovery coach. We'll remind you an "
        "hour before. Reply RESCHEDULE to pick another time or CANCEL TIME to cancel."
    ]
    confirmation = to(sent, MAYA)[0]
    booked = handoff(line.services)
    assert (booked.status, booked.responder_id) == ("accepted", maya)
    link = confirmation.split("Calendar invite: ")[1].removeprefix(PUBLIC)
    ics = line.client.get(link)
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    assert f"request {booked.code}" in ics.text and "Sam" not in ics.text
    assert line.client.get(link[:-4] + "0000").status_code == 403

    assert booked.scheduled_for is not None
    line.clock.now = booked.scheduled_for - dt.timedelta(minutes=59)
    sent = line.work()
    assert to(sent, PERSON) == ["Reminder: Maya will reach out at today, 12:00 PM."]
    assert to(sent, MAYA) == [f"Reminder: request {booked.code} at today, 12:00 PM."]


def test_outside_on_call_hours_the_person_can_book_then_cancel(line: Line) -> None:
    maya = add_responder(line.services, "Maya Lopez", MAYA)
    weekday_shifts(line.services, maya)
    line.clock.now = dt.datetime(2026, 3, 7, 15, tzinfo=dt.UTC)  # Saturday
    for body in INTAKE:
        line.text(body)
    offer = to(line.work(), PERSON)[0]
    assert offer.startswith("Nobody is on call right now. If you need help now, call +1 555 0100.")
    assert "1. Monday, 9:00 AM" in offer
    line.text("1")
    line.work()
    line.text("cancel time")
    sent = line.work()
    assert to(sent, PERSON) == ["Your time is cancelled. You can text us any time."]
    assert "was cancelled by the person" in to(sent, MAYA)[0]
    assert handoff(line.services).status == "cancelled"


def test_reschedule_offers_new_times(line: Line) -> None:
    maya = add_responder(line.services, "Maya Lopez", MAYA)
    weekday_shifts(line.services, maya)
    for body in SCHEDULE:
        line.text(body)
    line.work()
    line.text("1")
    line.work()
    line.text("Reschedule")
    assert to(line.work(), PERSON)[0].startswith("When would you like to talk?")
    line.text("3")
    assert "You're booked" in to(line.work(), PERSON)[0]

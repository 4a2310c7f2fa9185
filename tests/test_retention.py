"""The retention purge with a fake clock: old free text goes, recent stays, events stay."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import func, select

from bot.models import Consent, Conversation, Event, Handoff, Message
from bot.retention import CONSENT_RETENTION, choice_values, purge, strip_free_text
from bot.services import Services
from tests.conftest import FakeClock
from tests.privacy_support import NAME, full_conversation

OTHER = "+15555550199"


def snapshot(services: Services) -> dict[str, object]:
    with services.sessions() as session:
        return {
            "bodies": [m.body for m in session.scalars(select(Message).order_by(Message.id))],
            "slots": [
                c.slots for c in session.scalars(select(Conversation).order_by(Conversation.id))
            ],
            "names": [
                h.display_name for h in session.scalars(select(Handoff).order_by(Handoff.id))
            ],
            "consents": session.scalar(select(func.count(Consent.id))),
            "events": session.scalar(select(func.count(Event.id))),
        }


def close_handoffs(services: Services, when: dt.datetime) -> None:
    with services.sessions() as session, session.begin():
        for handoff in session.scalars(select(Handoff)):
            handoff.status = "closed"
            handoff.outcome = "connected"
            handoff.closed_at = when


def test_old_free_text_goes_recent_stays_events_stay(services: Services, clock: FakeClock) -> None:
    start = clock.now
    full_conversation(services)
    close_handoffs(services, start)
    clock.advance(days=100)
    full_conversation(services, address=OTHER, prefix="NEW")
    before = snapshot(services)

    dry = purge(services, clock.now, dry_run=True)
    assert dry.counts["message_bodies"] > 0
    assert dry.counts["conversation_free_text"] == 1
    assert dry.counts["handoff_display_names"] == 1
    assert dry.counts["consent_records"] == 0
    assert snapshot(services) == before  # a dry run changes nothing

    report = purge(services, clock.now, dry_run=False)
    assert report.counts == dry.counts
    with services.sessions() as session:
        old = session.scalars(
            select(Message).where(Message.created_at < start + dt.timedelta(days=1))
        )
        assert [m.body for m in old] == [None] * dry.counts["message_bodies"]
        recent = session.scalars(select(Message).where(Message.created_at >= clock.now)).all()
        assert recent and all(m.body for m in recent)
        first, second = session.scalars(select(Conversation).order_by(Conversation.id)).all()
        old_slots, new_slots = json.loads(first.slots or "{}"), json.loads(second.slots or "{}")
        assert "name" not in old_slots and old_slots["help_kind"] == "talk_today"
        assert new_slots["name"] == NAME
        names = [h.display_name for h in session.scalars(select(Handoff).order_by(Handoff.id))]
        assert names == [None, NAME]  # the second handoff is still open
    after = snapshot(services)
    assert after["events"] == before["events"] and after["consents"] == before["consents"]
    assert purge(services, clock.now).total == 0  # nothing left to do


def test_consent_records_are_kept_six_years(services: Services, clock: FakeClock) -> None:
    full_conversation(services)
    close_handoffs(services, clock.now)
    given = clock.now
    assert snapshot(services)["consents"] == 1

    almost = given + CONSENT_RETENTION - dt.timedelta(days=1)
    assert purge(services, almost).counts["consent_records"] == 0
    assert snapshot(services)["consents"] == 1

    past = given + CONSENT_RETENTION + dt.timedelta(days=1)
    assert purge(services, past, dry_run=True).counts["consent_records"] == 1
    assert snapshot(services)["consents"] == 1
    assert purge(services, past).counts["consent_records"] == 1
    assert snapshot(services)["consents"] == 0
    with services.sessions() as session:
        assert session.scalars(select(Handoff)).one().consent_id is None


def test_a_withdrawn_consent_counts_from_its_withdrawal(
    services: Services, clock: FakeClock
) -> None:
    full_conversation(services)
    withdrawn = clock.now + dt.timedelta(days=200)
    with services.sessions() as session, session.begin():
        session.scalars(select(Consent)).one().withdrawn_at = withdrawn
    just_after_six_years = clock.now + CONSENT_RETENTION + dt.timedelta(days=1)
    assert purge(services, just_after_six_years).counts["consent_records"] == 0
    assert purge(services, withdrawn + CONSENT_RETENTION + dt.timedelta(days=1)).total > 0
    assert snapshot(services)["consents"] == 0


def test_only_choice_answers_survive(services: Services) -> None:
    keep = choice_values(services.dialogues)
    slots = {"help_kind": "talk_today", "name": "Sam", "crisis_note": "at the bridge", "x": 1}
    assert strip_free_text(slots, keep) == {"help_kind": "talk_today"}
    assert strip_free_text({"help_kind": "something typed"}, keep) == {}

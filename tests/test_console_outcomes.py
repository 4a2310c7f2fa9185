"""Outcome figures on a small seeded dataset (SQLite and PostgreSQL), the CSV export's
suppression, and `doorway report` printing the same rows."""

from __future__ import annotations

import datetime as dt

from bot.console.export import rows, to_csv
from bot.console.outcomes import Filters, Timing, compute
from bot.db import transaction
from bot.events import record
from bot.models import ChannelIdentity, Contact, Conversation, Handoff
from bot.services import Services

T0 = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)


def seed(services: Services) -> None:
    """Seven people: self-referral x5 (4 ask, 3 accepted, 2 connected, 1 completed), outreach x2."""
    plan = [
        # pathway, language, asked, accepted after (min), connected after, completed
        ("self_referral", "en", True, 2, 10, True),
        ("self_referral", "en", True, 4, 20, False),
        ("self_referral", "es", True, 30, None, False),
        ("self_referral", "es", True, None, None, False),
        ("self_referral", "en", False, None, None, False),
        ("active_outreach", "en", True, 6, 12, True),
        ("active_outreach", "en", False, None, None, False),
    ]
    with transaction(services.sessions) as session:
        for n, (pathway, language, asked, accepted, connected, completed) in enumerate(plan):
            contact = Contact(created_at=T0, language=language)
            session.add(contact)
            session.flush()
            identity = ChannelIdentity(
                contact_id=contact.id, channel="sms", address_index=f"i{n}", address=f"+1555{n}"
            )
            session.add(identity)
            session.flush()
            conversation = Conversation(
                contact_id=contact.id,
                identity_id=identity.id,
                dialogue_id="intake",
                step="x",
                language=language,
                pathway=pathway,
                started_at=T0,
                updated_at=T0,
                referral_code="CARD1" if pathway == "active_outreach" else None,
            )
            session.add(conversation)
            session.flush()
            if n == 4:
                record(session, "consent_given", T0, conversation_id=conversation.id)
            if n == 0:
                record(session, "crisis_detected", T0, contact_id=contact.id, kind="overdose")
                record(
                    session, "handoff_accepted", T0 + dt.timedelta(minutes=2), contact_id=contact.id
                )
                record(session, "satisfaction", T0, contact_id=contact.id, score=4)
            if n == 6:
                record(session, "opt_out", T0, contact_id=contact.id)
            if not asked:
                continue
            session.add(
                Handoff(
                    code=f"C{n:03d}",
                    conversation_id=conversation.id,
                    contact_id=contact.id,
                    status="completed"
                    if completed
                    else "connected"
                    if connected
                    else "accepted"
                    if accepted
                    else "requested",
                    kind="talk",
                    urgency="today",
                    pathway=pathway,
                    language=language,
                    channel="sms",
                    created_at=T0,
                    accepted_at=T0 + dt.timedelta(minutes=accepted) if accepted else None,
                    connected_at=T0 + dt.timedelta(minutes=connected) if connected else None,
                    closed_at=T0 + dt.timedelta(hours=1) if completed else None,
                )
            )


def filters(services: Services, pathway: str | None = None) -> Filters:
    return Filters(dt.date(2026, 3, 1), dt.date(2026, 3, 7), services.program.tz, pathway)


def test_funnel_times_and_groups(services: Services) -> None:
    seed(services)
    with services.sessions() as session:
        figures = compute(session, filters(services))
        only = compute(session, filters(services, "active_outreach"))
    assert figures.total == {
        "contacts": 7,
        "intake": 6,
        "requested": 5,
        "accepted": 4,
        "connected": 3,
        "completed": 2,
    }
    assert figures.by_pathway["active_outreach"]["completed"] == 1
    assert figures.by_language["es"] == {
        "contacts": 2,
        "intake": 2,
        "requested": 2,
        "accepted": 1,
        "connected": 0,
        "completed": 0,
    }
    assert figures.by_code["CARD1"]["contacts"] == 2
    # accepted after 2, 4, 6, 30 minutes: median 5 min, p90 (nearest rank) 30 min
    assert figures.time_to_accept == Timing(4, 300.0, 1800.0)
    assert figures.time_to_contact == Timing(3, 720.0, 1200.0)
    assert (figures.crisis, figures.crisis_answered) == (1, 1)
    assert figures.crisis_response == Timing(1, 120.0, 120.0)
    assert figures.opt_outs == 1
    assert figures.person_satisfaction.mean == 4
    assert only.total["contacts"] == 2 and only.opt_outs == 1 and only.crisis == 0


def test_csv_suppresses_small_counts_and_has_no_personal_data(services: Services) -> None:
    seed(services)
    with services.sessions() as session:
        figures = compute(session, filters(services))
    table = rows(figures)
    assert ("funnel", "all", "contacts", "7") in table
    assert ("funnel", "all", "completed", "<5") in table
    assert ("opt_outs", "", "people", "<5") in table
    assert ("time_to_accept", "", "median_seconds", "") in table  # n = 4: hidden
    text = to_csv(table)
    assert "+1555" not in text and "C000" not in text
    exact = rows(figures, suppress=False)
    assert ("funnel", "all", "completed", "2") in exact

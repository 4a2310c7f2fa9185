"""The demo program's people: two coaches whose shifts cover every hour."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from bot.db import transaction
from bot.models import Responder, Shift
from bot.services import Services

DEMO_COACHES = (
    # name, shown as, role, languages, skills, shift start, shift end (past midnight if earlier)
    (
        "Maya Demo",
        "Maya",
        "peer_recovery_coach",
        ["en", "es"],
        ["moud", "harm_reduction"],
        dt.time(8, 0),
        dt.time(20, 0),
    ),
    (
        "Jordan Demo",
        "Jordan",
        "on_call_provider",
        ["en"],
        ["housing", "mental_health"],
        dt.time(20, 0),
        dt.time(8, 0),
    ),
)


def seed_demo(services: Services) -> int:
    """Add the demo coaches and their weekly shifts once; returns how many were added."""
    added = 0
    with transaction(services.sessions) as session:
        for name, shown, role, languages, skills, start, end in DEMO_COACHES:
            if session.scalar(select(Responder.id).where(Responder.name == name)) is not None:
                continue
            responder = Responder(
                name=name,
                display_name=shown,
                role=role,
                languages=languages,
                skills=skills,
                capacity=5,
                active=True,
                created_at=services.clock(),
            )
            session.add(responder)
            session.flush()
            for weekday in range(7):
                session.add(
                    Shift(
                        responder_id=responder.id,
                        kind="weekly",
                        weekday=weekday,
                        start_time=start,
                        end_time=end,
                        available=True,
                    )
                )
            added += 1
    return added

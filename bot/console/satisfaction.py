"""One optional question to the person after a completed handoff, and their 1-5 answer."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.events import record
from bot.handoff.notify import tell_person
from bot.i18n import N_
from bot.models import Event, Handoff
from bot.services import Services

QUESTION = N_(
    "One optional question: how helpful was talking with us, from 1 (not at all) to 5 "
    "(very)? Reply with a number, and a comment if you like. You can ignore this."
)
THANKS = N_("Thank you for telling us.")
#: An answer days later is more likely a new conversation than a rating.
ANSWER_WITHIN = dt.timedelta(hours=48)
_SCORE = re.compile(r"^\s*([1-5])(?:\s*/\s*5)?(?:[\s.,:;!-]+(.*))?$", re.DOTALL)


def ask(services: Services, session: Session, handoff: Handoff, now: dt.datetime) -> None:
    """Queue the question, once per handoff, in the person's language."""
    if tell_person(services, session, handoff, QUESTION, now) is not None:
        record(
            session,
            "satisfaction_asked",
            now,
            contact_id=handoff.contact_id,
            handoff_id=handoff.id,
        )


def answer(
    services: Services, session: Session, contact_id: int, text: str, now: dt.datetime
) -> bool:
    """Record a 1-5 reply to a pending question; anything else is left to the dialogue."""
    asked = session.scalar(
        select(Event)
        .where(
            Event.contact_id == contact_id,
            Event.kind.in_(("satisfaction_asked", "satisfaction", "satisfaction_skipped")),
        )
        .order_by(Event.id.desc())
        .limit(1)
    )
    if (
        asked is None
        or asked.kind != "satisfaction_asked"
        or now - asked.created_at > ANSWER_WITHIN
    ):
        return False
    match = _SCORE.match(text)
    if match is None:
        # Only the very next message counts: later digits are answers to something else.
        record(
            session, "satisfaction_skipped", now, contact_id=contact_id, handoff_id=asked.handoff_id
        )
        return False
    # The comment stays in the (encrypted, purged on schedule) message; the event has no text.
    record(
        session,
        "satisfaction",
        now,
        contact_id=contact_id,
        handoff_id=asked.handoff_id,
        score=int(match.group(1)),
        comment=bool((match.group(2) or "").strip()),
    )
    handoff = session.get(Handoff, asked.handoff_id) if asked.handoff_id else None
    if handoff is not None:
        tell_person(services, session, handoff, THANKS, now)
    return True


def rate_by_responder(
    session: Session, handoff: Handoff, responder_id: int, score: int, now: dt.datetime
) -> None:
    """The responder's own 1-5 for the handoff, given with the outcome."""
    record(
        session,
        "responder_rating",
        now,
        contact_id=handoff.contact_id,
        handoff_id=handoff.id,
        responder_id=responder_id,
        score=score,
    )

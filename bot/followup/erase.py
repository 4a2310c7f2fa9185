"""Erasing a person: their follow-ups stop and lose the name, notes and who took consent."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.followup.stops import stop
from bot.models import FollowupEnrolment

#: What `consent_by` becomes: the fact that consent was taken stays, the name goes.
ERASED = "(erased)"


def erase_enrolments(session: Session, contact_id: int, now: dt.datetime) -> int:
    """For `bot.erase.erase_contact` to call; returns how many enrolments it scrubbed."""
    enrolments = session.scalars(
        select(FollowupEnrolment).where(FollowupEnrolment.contact_id == contact_id)
    ).all()
    for enrolment in enrolments:
        stop(session, enrolment, "erased", now)
        enrolment.display_name = None
        enrolment.notes = None
        enrolment.consent_by = ERASED
        enrolment.updated_at = now
    return len(enrolments)

"""The audit trail: who viewed or exported a person's data, or changed the program, when."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from bot.models import AuditEvent


def audit(
    session: Session, user_id: int | None, action: str, target: str | None, now: dt.datetime
) -> None:
    """`target` names a thing (a request code, a user name), never a person's details."""
    session.add(AuditEvent(user_id=user_id, action=action, target=target, created_at=now))

"""Append events: the facts outcomes are computed from. Never personal data in `data`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from bot.models import Event


def record(
    session: Session,
    kind: str,
    now: dt.datetime,
    /,
    *,
    contact_id: int | None = None,
    conversation_id: int | None = None,
    handoff_id: int | None = None,
    data: Mapping[str, Any] | None = None,
    **fields: Any,
) -> Event:
    """Add one event; `data` and keyword fields (e.g. `kind=`) become its JSON facts."""
    event = Event(
        kind=kind,
        created_at=now,
        contact_id=contact_id,
        conversation_id=conversation_id,
        handoff_id=handoff_id,
        data={**(data or {}), **fields},
    )
    session.add(event)
    return event

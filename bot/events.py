"""Append events: the facts outcomes are computed from. Never personal data in `data`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from bot.models import Event
from bot.prepared import insert_row

#: `session.info` key: (kind, facts) of every event recorded in the session's transaction,
#: for whoever counts events once it commits (the metrics).
RECORDED = "doorway.recorded_events"


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
) -> None:
    """Append one event; `data` and keyword fields (e.g. `kind=`) become its JSON facts.

    A plain INSERT in the caller's transaction, at once: events are only ever appended, and
    the ORM's unit of work cost twice what the insert does on the path of every message
    (run as `bot.prepared` runs it).
    """
    facts = {**(data or {}), **fields}
    insert_row(
        session,
        Event,
        {
            "kind": kind,
            "created_at": now,
            "contact_id": contact_id,
            "conversation_id": conversation_id,
            "handoff_id": handoff_id,
            "data": facts,
        },
    )
    session.info.setdefault(RECORDED, []).append((kind, facts))

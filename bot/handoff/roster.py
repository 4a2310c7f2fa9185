"""Responders and their shifts in the database, and who is on call now."""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.handoff.routing import RESPONDER_ROLES, ResponderView
from bot.handoff.schedule import Override, Rota, WeeklyWindow
from bot.models import HOLDS_CAPACITY, Handoff, Responder, Shift
from bot.sql_words import inline_words

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class RosterError(UserError):
    """A bad responder or shift value; the message says which and why."""


def parse_weekday(value: str) -> int:
    key = value.strip().lower()[:3]
    if key in WEEKDAYS:
        return WEEKDAYS.index(key)
    if key.isdigit() and 0 <= int(key) <= 6:
        return int(key)
    raise RosterError(f"weekday {value!r}: use mon..sun")


def parse_time(value: str) -> dt.time:
    try:
        return dt.time.fromisoformat(value.strip())
    except ValueError:
        raise RosterError(f"time {value!r}: use HH:MM") from None


def check_role(role: str) -> str:
    if role not in RESPONDER_ROLES:
        raise RosterError(f"role {role!r}: one of {', '.join(RESPONDER_ROLES)}")
    return role


def find_responder(session: Session, name: str) -> Responder:
    responder = session.scalar(select(Responder).where(Responder.name == name))
    if responder is None:
        raise RosterError(f"no responder named {name!r}")
    return responder


def rotas(session: Session) -> list[Rota]:
    """Every responder's on-call rules, for the pure schedule functions."""
    weekly: dict[int, list[WeeklyWindow]] = defaultdict(list)
    overrides: dict[int, list[Override]] = defaultdict(list)
    for shift in session.scalars(select(Shift)):
        if shift.kind == "weekly":
            assert shift.weekday is not None and shift.start_time and shift.end_time
            weekly[shift.responder_id].append(
                WeeklyWindow(shift.weekday, shift.start_time, shift.end_time)
            )
        elif shift.starts_at and shift.ends_at:
            overrides[shift.responder_id].append(
                Override(shift.starts_at, shift.ends_at, shift.available)
            )
    ids = set(weekly) | set(overrides)
    return [Rota(i, tuple(weekly[i]), tuple(overrides[i])) for i in sorted(ids)]


@dataclass(frozen=True)
class Team:
    """The responders and their on-call rules, read once for one routing decision."""

    views: list[ResponderView]
    rotas: list[Rota]
    #: The responders as loaded, by id, for the writes routing makes to the ones it chooses.
    #: Held here, they stay in the session: its identity map forgets objects nobody holds,
    #: and each offer looked its responder up again (a SELECT per handoff routed).
    responders: dict[int, Responder]


def team(session: Session) -> Team:
    responders = {r.id: r for r in session.scalars(select(Responder).order_by(Responder.id))}
    return Team(
        views=views_of(responders.values(), open_counts(session)),
        rotas=rotas(session),
        responders=responders,
    )


#: Handoffs that count against their responder's capacity, in the very words of the partial
#: index `ix_handoffs_open_by_responder`: a lookup by responder that says this (and narrows
#: it further if it likes) reads only those rows, never the responder's whole history.
HOLDING_CAPACITY = Handoff.status.in_(inline_words(HOLDS_CAPACITY))
#: Open handoffs per responder.
OPEN_COUNTS = (
    select(Handoff.responder_id, func.count())
    .where(HOLDING_CAPACITY, Handoff.responder_id.is_not(None))
    .group_by(Handoff.responder_id)
)


def open_counts(session: Session) -> dict[int, int]:
    rows = session.execute(OPEN_COUNTS).all()
    return {int(responder_id or 0): int(n) for responder_id, n in rows}


def views_of(responders: Iterable[Responder], counts: dict[int, int]) -> list[ResponderView]:
    """What routing needs, for every responder, given their open handoffs."""
    return [
        ResponderView(
            id=r.id,
            role=r.role,
            languages=frozenset(r.languages),
            skills=frozenset(r.skills),
            interpreter=r.interpreter,
            capacity=r.capacity,
            open_handoffs=counts.get(r.id, 0),
            active=r.active,
            last_offered_at=r.last_offered_at,
        )
        for r in responders
    ]


@dataclass(frozen=True)
class ShiftRow:
    name: str
    weekday: int
    start: dt.time
    end: dt.time


def read_shift_csv(path: Path) -> list[ShiftRow]:
    """Rows `name,weekday,start,end`; every row is checked before anything is stored."""
    rows: list[ShiftRow] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"name", "weekday", "start", "end"} - set(reader.fieldnames or [])
        if missing:
            raise RosterError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
            try:
                rows.append(
                    ShiftRow(
                        name=row["name"].strip(),
                        weekday=parse_weekday(row["weekday"]),
                        start=parse_time(row["start"]),
                        end=parse_time(row["end"]),
                    )
                )
            except RosterError as exc:
                raise RosterError(f"{path}:{line}: {exc}") from None
    return rows


def add_weekly(session: Session, rows: Iterable[ShiftRow]) -> int:
    added = 0
    for row in rows:
        responder = find_responder(session, row.name)
        session.add(
            Shift(
                responder_id=responder.id,
                kind="weekly",
                weekday=row.weekday,
                start_time=row.start,
                end_time=row.end,
                available=True,
            )
        )
        added += 1
    return added

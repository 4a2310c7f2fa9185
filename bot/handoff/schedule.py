"""Who is on call when: weekly windows in the program's time zone plus one-off overrides.

Pure functions over plain data, so daylight-saving changes and overnight shifts are table
tests. Weekly windows are wall-clock times: a 20:00-08:00 shift stays 20:00-08:00 local on the
night the clocks change (it is then an hour shorter or longer in real time).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class WeeklyWindow:
    """On call every `weekday` (0 = Monday) from `start` to `end`; `end <= start` runs past
    midnight into the next day."""

    weekday: int
    start: dt.time
    end: dt.time

    @property
    def overnight(self) -> bool:
        return self.end <= self.start


@dataclass(frozen=True)
class Override:
    """A one-off change between two instants: cover (`available`) or time off."""

    starts_at: dt.datetime
    ends_at: dt.datetime
    available: bool


@dataclass(frozen=True)
class Rota:
    """One responder's on-call rules."""

    responder_id: int
    weekly: tuple[WeeklyWindow, ...] = ()
    overrides: tuple[Override, ...] = ()


def _in_weekly(window: WeeklyWindow, local: dt.datetime) -> bool:
    day, clock = local.weekday(), local.time()
    if not window.overnight:
        return day == window.weekday and window.start <= clock < window.end
    if day == window.weekday and clock >= window.start:
        return True
    return day == (window.weekday + 1) % 7 and clock < window.end


def on_call(rota: Rota, at: dt.datetime, tz: ZoneInfo) -> bool:
    """Whether the responder is on call at the instant `at` (aware)."""
    for override in rota.overrides:
        if override.starts_at <= at < override.ends_at:
            return override.available
    local = at.astimezone(tz)
    return any(_in_weekly(window, local) for window in rota.weekly)


def on_call_ids(rotas: Iterable[Rota], at: dt.datetime, tz: ZoneInfo) -> set[int]:
    return {rota.responder_id for rota in rotas if on_call(rota, at, tz)}


def _window_starts(
    rota: Rota, after: dt.datetime, until: dt.datetime, tz: ZoneInfo
) -> Iterator[dt.datetime]:
    """Instants when a weekly window or a cover override begins, in order, within a range."""
    starts: list[dt.datetime] = [
        o.starts_at for o in rota.overrides if o.available and after <= o.starts_at < until
    ]
    day = after.astimezone(tz).date() - dt.timedelta(days=1)
    last = until.astimezone(tz).date()
    while day <= last:
        for window in rota.weekly:
            if window.weekday == day.weekday():
                start = dt.datetime.combine(day, window.start, tzinfo=tz).astimezone(dt.UTC)
                if after <= start < until:
                    starts.append(start)
        day += dt.timedelta(days=1)
    yield from sorted(starts)


def next_slots(
    rotas: Iterable[Rota],
    after: dt.datetime,
    tz: ZoneInfo,
    *,
    count: int = 3,
    step: dt.timedelta = dt.timedelta(minutes=30),
    horizon: dt.timedelta = dt.timedelta(days=14),
    busy: Iterable[tuple[int, dt.datetime]] = (),
) -> list[tuple[dt.datetime, int]]:
    """The next `count` times (on a `step` grid) when someone is on call and free, each with
    who; at most one slot per hour so the person gets a real choice."""
    taken = set(busy)
    ordered = sorted(rotas, key=lambda r: r.responder_id)
    if not ordered:
        return []  # nobody has a shift: no need to walk two weeks of the grid
    grid = after.astimezone(dt.UTC)
    minutes = (grid.minute // 30 + 1) * 30
    grid = grid.replace(minute=0, second=0, microsecond=0) + dt.timedelta(minutes=minutes)
    end = after + horizon
    found: list[tuple[dt.datetime, int]] = []
    while grid < end and len(found) < count:
        if not found or grid - found[-1][0] >= dt.timedelta(hours=1):
            for rota in ordered:
                if (rota.responder_id, grid) not in taken and on_call(rota, grid, tz):
                    found.append((grid, rota.responder_id))
                    break
        grid += step
    return found

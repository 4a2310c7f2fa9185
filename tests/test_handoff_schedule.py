"""On-call rules as tables: weekly windows, overnight shifts, DST nights, overrides."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.handoff.schedule import Override, Rota, WeeklyWindow, next_slots, on_call

NY = ZoneInfo("America/New_York")
DAY = Rota(1, weekly=tuple(WeeklyWindow(d, dt.time(8), dt.time(20)) for d in range(7)))
NIGHT = Rota(2, weekly=tuple(WeeklyWindow(d, dt.time(20), dt.time(8)) for d in range(7)))
WEEKDAYS = Rota(3, weekly=tuple(WeeklyWindow(d, dt.time(9), dt.time(17)) for d in range(5)))


def ny(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=NY).astimezone(dt.UTC)


CASES = [
    # (label, rota, instant, on call?)
    ("day shift, 8:00 sharp", DAY, ny(2026, 3, 2, 8, 0), True),
    ("day shift, 19:59", DAY, ny(2026, 3, 2, 19, 59), True),
    ("day shift ends at 20:00", DAY, ny(2026, 3, 2, 20, 0), False),
    ("night shift, 23:00", NIGHT, ny(2026, 3, 2, 23, 0), True),
    ("night shift past midnight", NIGHT, ny(2026, 3, 3, 3, 0), True),
    ("night shift ends 08:00", NIGHT, ny(2026, 3, 3, 8, 0), False),
    ("Sunday night into Monday", NIGHT, ny(2026, 3, 9, 2, 0), True),
    ("weekday rota on Saturday", WEEKDAYS, ny(2026, 3, 7, 10, 0), False),
    ("weekday rota Friday 16:59", WEEKDAYS, ny(2026, 3, 6, 16, 59), True),
    # 2026-03-08: US clocks spring forward at 02:00 -> 03:00
    ("spring forward, 01:30 local", NIGHT, dt.datetime(2026, 3, 8, 6, 30, tzinfo=dt.UTC), True),
    ("spring forward, 07:30 EDT", NIGHT, dt.datetime(2026, 3, 8, 11, 30, tzinfo=dt.UTC), True),
    ("spring forward, 08:00 EDT", NIGHT, dt.datetime(2026, 3, 8, 12, 0, tzinfo=dt.UTC), False),
    (
        "spring forward, day shift 08:00 EDT",
        DAY,
        dt.datetime(2026, 3, 8, 12, 0, tzinfo=dt.UTC),
        True,
    ),
    # 2026-11-01: clocks fall back at 02:00 -> 01:00
    ("fall back, 07:30 EST", NIGHT, dt.datetime(2026, 11, 1, 12, 30, tzinfo=dt.UTC), True),
    ("fall back, 08:00 EST", NIGHT, dt.datetime(2026, 11, 1, 13, 0, tzinfo=dt.UTC), False),
    ("fall back, day 08:00 EST", DAY, dt.datetime(2026, 11, 1, 13, 0, tzinfo=dt.UTC), True),
]


@pytest.mark.parametrize(("label", "rota", "instant", "expected"), CASES, ids=[c[0] for c in CASES])
def test_on_call(label: str, rota: Rota, instant: dt.datetime, expected: bool) -> None:
    assert on_call(rota, instant, NY) is expected


def test_time_off_overrides_the_weekly_window() -> None:
    off = Rota(
        1, weekly=DAY.weekly, overrides=(Override(ny(2026, 3, 2, 12), ny(2026, 3, 2, 14), False),)
    )
    assert on_call(off, ny(2026, 3, 2, 11, 59), NY)
    assert not on_call(off, ny(2026, 3, 2, 12, 30), NY)
    assert on_call(off, ny(2026, 3, 2, 14, 0), NY)


def test_cover_adds_time_outside_the_weekly_window() -> None:
    cover = Rota(
        3,
        weekly=WEEKDAYS.weekly,
        overrides=(Override(ny(2026, 3, 7, 10), ny(2026, 3, 7, 18), True),),
    )
    assert on_call(cover, ny(2026, 3, 7, 12), NY)
    assert not on_call(cover, ny(2026, 3, 7, 19), NY)


def test_next_slots_are_an_hour_apart_and_on_call() -> None:
    slots = next_slots([WEEKDAYS], ny(2026, 3, 6, 15, 10), NY)
    assert [s.astimezone(NY).strftime("%a %H:%M") for s, _ in slots] == [
        "Fri 15:30",
        "Fri 16:30",
        "Mon 09:00",
    ]
    assert all(who == 3 for _, who in slots)


def test_next_slots_skip_busy_times() -> None:
    first = ny(2026, 3, 6, 15, 30)
    slots = next_slots([WEEKDAYS], ny(2026, 3, 6, 15, 10), NY, busy=[(3, first)])
    assert slots[0][0] == ny(2026, 3, 6, 16, 0)

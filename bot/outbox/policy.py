"""When a message may go: quiet hours in the recipient's time zone, backoff and the rate limit."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezone

from bot.config import QuietHours

_MAX_DAYS = 8  # a week and a day always holds the next allowed day
_MAX_ROUNDS = 16


@lru_cache(maxsize=4096)
def _zone_names(address: str) -> tuple[str, ...]:
    try:
        number = phonenumbers.parse(address, None)
    except phonenumbers.NumberParseException:
        return ()
    return tuple(
        name for name in phone_timezone.time_zones_for_number(number) if name != "Etc/Unknown"
    )


def recipient_zones(address: str, fallback: ZoneInfo) -> tuple[ZoneInfo, ...]:
    """The time zones a phone number may be in (from its area code); otherwise the program's.

    An area code can span two zones: the caller then honours the window in all of them.
    """
    if not address.startswith("+"):
        return (fallback,)
    zones = []
    for name in _zone_names(address):
        try:
            zones.append(ZoneInfo(name))
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return tuple(zones) or (fallback,)


def in_window(moment: dt.datetime, zone: ZoneInfo, quiet: QuietHours) -> bool:
    local = moment.astimezone(zone)
    return local.weekday() in quiet.days and quiet.start <= local.time() < quiet.end


def _next_start(moment: dt.datetime, zone: ZoneInfo, quiet: QuietHours) -> dt.datetime:
    """The earliest time at or after `moment` inside the window in one zone."""
    if in_window(moment, zone, quiet):
        return moment
    local_day = moment.astimezone(zone).date()
    for offset in range(_MAX_DAYS):
        day = local_day + dt.timedelta(days=offset)
        if day.weekday() not in quiet.days:
            continue
        start = dt.datetime.combine(day, quiet.start, tzinfo=zone).astimezone(dt.UTC)
        if start >= moment:
            return start
    raise ValueError("quiet hours allow no day of the week")


def next_allowed(
    moment: dt.datetime, zones: tuple[ZoneInfo, ...], quiet: QuietHours
) -> dt.datetime:
    """The earliest time at or after `moment` inside the window in every zone (or, when the
    zones share no window, in the first one)."""
    candidate = moment
    for _ in range(_MAX_ROUNDS):
        later = max(_next_start(candidate, zone, quiet) for zone in zones)
        if later == candidate:
            return candidate
        candidate = later
    return _next_start(moment, zones[0], quiet)


def backoff(
    attempts: int,
    *,
    base: float,
    cap: float,
    rng: random.Random,
    at_least: float | None = None,
) -> dt.timedelta:
    """Exponential backoff with jitter: between half and all of base·2^(n-1), capped.

    Jitter spreads retries so a provider outage does not end in a thundering herd.
    """
    ceiling = min(cap, base * 2 ** max(0, attempts - 1))
    delay = rng.uniform(ceiling / 2, ceiling)
    if at_least is not None:
        delay = max(delay, at_least)
    return dt.timedelta(seconds=delay)


@dataclass(frozen=True)
class Slot:
    """A sender's send slot a job reserved: sleep `wait` seconds, then send."""

    sender: str
    at: dt.datetime | None  # None when the limit is off
    wait: float


class SenderPace:
    """At most `per_second` sends per sender (one channel is one sender), spaced evenly;
    `per_channel` sets a channel's own rate (0: no limit there).

    Jobs running side by side reserve a slot before sending instead of checking and then
    marking, which would let two of them see the same free slot and send together.
    """

    def __init__(
        self,
        per_second: float,
        clock: Callable[[], dt.datetime],
        per_channel: Mapping[str, float] | None = None,
    ) -> None:
        self.intervals = {channel: _interval(rate) for channel, rate in (per_channel or {}).items()}
        self.interval = _interval(per_second)
        self.clock = clock
        self._next_free: dict[str, dt.datetime] = {}

    def reserve(self, sender: str) -> Slot:
        """Take `sender`'s next free slot; `wait` says how long until it (0: now).

        Call it on the event loop: nothing awaits between reading and advancing the next free
        time, so concurrent jobs each get their own slot.
        """
        interval = self._interval_of(sender)
        if interval is None:
            return Slot(sender, None, 0.0)
        now = self.clock()
        at = max(now, self._next_free.get(sender, now))
        self._next_free[sender] = at + interval
        return Slot(sender, at, (at - now).total_seconds())

    def give_back(self, slot: Slot) -> None:
        """Free a slot the job did not send in (cancelled, rescheduled), so the sends behind it
        do not wait for nothing; only while no later slot was taken, else two would share."""
        interval = self._interval_of(slot.sender)
        if slot.at is None or interval is None:
            return
        if self._next_free.get(slot.sender) == slot.at + interval:
            self._next_free[slot.sender] = slot.at

    def _interval_of(self, sender: str) -> dt.timedelta | None:
        return self.intervals.get(sender, self.interval)


def _interval(per_second: float) -> dt.timedelta | None:
    return dt.timedelta(seconds=1 / per_second) if per_second > 0 else None

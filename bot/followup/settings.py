"""The program file's `followup` section: the cadence and defaults of follow-up campaigns."""

from __future__ import annotations

import datetime as dt
import itertools

from pydantic import BaseModel, ConfigDict, Field, field_validator

#: Within 24 hours of the event, then day 3, 7, 14, 30 and 60: at least eight weeks, as the
#: New Jersey Opioid Overdose Recovery Program asks of its peer follow-up.
DEFAULT_CADENCE = (0, 3, 7, 14, 30, 60)


class FollowupSettings(BaseModel):
    """How often and when follow-up texts go; every field has a default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Days after the event; day 0 goes as soon as quiet hours allow.
    cadence_days: tuple[int, ...] = DEFAULT_CADENCE
    #: Local time (the person's) of the day-N check-ins, moved into the quiet-hours window.
    checkin_time: dt.time = dt.time(10, 0)
    #: The pathway a handoff asked for from a follow-up counts toward.
    pathway: str = "naloxone_plus"
    #: The region phone numbers without a country code belong to.
    phone_region: str = "US"
    #: Events older than this cannot be enrolled: every check-in would already be late.
    max_event_age_days: int = Field(default=60, ge=1, le=366)

    @field_validator("cadence_days")
    @classmethod
    def _increasing(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise ValueError("at least one step")
        if value[0] != 0:
            raise ValueError("the first step is day 0 (the introduction)")
        if any(b <= a for a, b in itertools.pairwise(value)):
            raise ValueError("days must increase")
        if value[-1] > 366:
            raise ValueError("at most a year")
        return value

"""Dates and times in the person's locale and time zone."""

from __future__ import annotations

import datetime as dt
import gettext
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import Translator

NOW = dt.datetime(2026, 3, 5, 23, 30, tzinfo=dt.UTC)  # Thursday


def translator(language: str, **catalog: str) -> Translator:
    class _Fixed(gettext.NullTranslations):
        def gettext(self, message: str) -> str:
            return catalog.get(message, message)

    return Translator(language, _Fixed())


@pytest.mark.parametrize(
    ("language", "zone", "when", "expected"),
    [
        # 20:00 UTC tomorrow is 15:00 in New York; the day is counted in New York
        (
            "en",
            "America/New_York",
            dt.datetime(2026, 3, 6, 20, 0, tzinfo=dt.UTC),
            "tomorrow, 3:00\u202fPM",
        ),
        ("es", "America/New_York", dt.datetime(2026, 3, 6, 20, 0, tzinfo=dt.UTC), "mañana, 15:00"),
        # 23:30 UTC Thursday is already Friday 07:30 in Shanghai: "today" there
        ("zh_Hans", "Asia/Shanghai", dt.datetime(2026, 3, 6, 7, 0, tzinfo=dt.UTC), "今天 15:00"),
        ("es", "America/New_York", dt.datetime(2026, 3, 9, 14, 0, tzinfo=dt.UTC), "lunes, 10:00"),
        (
            "es",
            "America/New_York",
            dt.datetime(2026, 4, 1, 14, 0, tzinfo=dt.UTC),
            "1 abr 2026, 10:00",
        ),
    ],
)
def test_day_and_time(language: str, zone: str, when: dt.datetime, expected: str) -> None:
    words = {
        "es": {"tomorrow": "mañana", "today": "hoy"},
        "zh_Hans": {"tomorrow": "明天", "today": "今天"},
    }
    speaker = translator(language, **words.get(language, {}))
    assert speaker.day_and_time(when, ZoneInfo(zone), NOW) == expected


def test_weekday_is_in_the_persons_zone() -> None:
    late = dt.datetime(2026, 3, 6, 3, 0, tzinfo=dt.UTC)  # Friday in UTC, Thursday in LA
    assert translator("en").weekday(late, ZoneInfo("America/Los_Angeles")) == "Thursday"
    assert translator("es").weekday(late, ZoneInfo("Europe/Madrid")) == "viernes"

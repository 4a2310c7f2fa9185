"""Gettext catalogs per locale (read from `.po` at run time) and locale-aware formatting."""

from __future__ import annotations

import datetime as dt
import gettext
import io
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark a string for translation where it is defined; it is translated where it is sent."""
    return message


# TRANSLATORS: said before a time, e.g. "today, 3:00 PM" / "hoy, 15:00"
TODAY = N_("today")
# TRANSLATORS: said before a time, e.g. "tomorrow, 3:00 PM" / "mañana, 15:00" / "明天 15:00"
TOMORROW = N_("tomorrow")


class _SafeParams(dict[str, str]):
    """Leaves an unknown `{field}` as written instead of failing the whole message."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(template: str, params: Mapping[str, str]) -> str:
    """Fill `{placeholders}`; values are inserted as given, never re-parsed."""
    try:
        return template.format_map(_SafeParams(params))
    except (ValueError, IndexError, KeyError):
        return template


@dataclass(frozen=True)
class Translator:
    """Everything one conversation needs to speak one language."""

    language: str
    translations: gettext.NullTranslations

    @property
    def locale(self) -> Locale:
        try:
            return Locale.parse(self.language)
        except (UnknownLocaleError, ValueError):
            return Locale.parse("en")

    @property
    def right_to_left(self) -> bool:
        return self.locale.text_direction == "rtl"

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    def format(self, message: str, **params: str) -> str:
        """Translate, then fill placeholders."""
        return fill(self.gettext(message), params)

    def date(self, value: dt.date, fmt: str = "medium") -> str:
        return format_date(value, format=fmt, locale=self.locale)

    def time(self, value: dt.datetime, tz: dt.tzinfo, fmt: str = "short") -> str:
        return format_time(value, format=fmt, tzinfo=tz, locale=self.locale)

    def datetime(self, value: dt.datetime, tz: dt.tzinfo, fmt: str = "medium") -> str:
        return format_datetime(value, format=fmt, tzinfo=tz, locale=self.locale)

    def number(self, value: float) -> str:
        return format_decimal(value, locale=self.locale)

    def weekday(self, value: dt.datetime, tz: dt.tzinfo) -> str:
        """The day of the week in the person's time zone, e.g. "jueves", "星期四"."""
        return format_date(value.astimezone(tz).date(), format="EEEE", locale=self.locale)

    def day_and_time(self, value: dt.datetime, tz: dt.tzinfo, now: dt.datetime) -> str:
        """A time as people say it: "today, 3:00 PM", "mañana, 15:00", "星期四 15:00", or a
        date past the coming week. Days are counted in the person's time zone, not UTC."""
        local = value.astimezone(tz)
        days = (local.date() - now.astimezone(tz).date()).days
        if days == 0:
            day = self.gettext(TODAY)
        elif days == 1:
            day = self.gettext(TOMORROW)
        elif 1 < days < 7:
            day = self.weekday(value, tz)
        else:
            day = format_date(local.date(), format="medium", locale=self.locale)
        time = format_time(local, format="short", locale=self.locale)
        pattern = str(self.locale.datetime_formats.get("short", "{1}, {0}"))
        return pattern.replace("{1}", day).replace("{0}", time)


class Catalogs:
    """Loads each locale's `.po` once, compiling it in memory (no `.mo` files needed)."""

    def __init__(self, folder: Path, default_language: str = "en") -> None:
        self.folder = folder
        self.default_language = default_language
        self._cache: dict[str, Translator] = {}
        self._lock = threading.Lock()

    def available(self) -> list[str]:
        """Locales that have a catalog, plus the source language."""
        found = {p.parent.parent.name for p in self.folder.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
        return sorted(found | {"en"})

    def translator(self, language: str | None) -> Translator:
        language = language or self.default_language
        with self._lock:
            cached = self._cache.get(language)
            if cached is None:
                cached = Translator(language, self._load(language))
                self._cache[language] = cached
            return cached

    def _load(self, language: str) -> gettext.NullTranslations:
        path = self.folder / language / "LC_MESSAGES" / f"{DOMAIN}.po"
        if not path.is_file():
            return gettext.NullTranslations()
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=language, domain=DOMAIN)
        buffer = io.BytesIO()
        write_mo(buffer, catalog, use_fuzzy=False)
        buffer.seek(0)
        return Translations(fp=buffer, domain=DOMAIN)

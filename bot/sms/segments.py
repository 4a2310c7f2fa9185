"""Count SMS segments exactly (GSM-7 or UCS-2) and split long texts at word boundaries."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bot.sms.gsm7 import BASIC, EXTENSION, septets

Encoding = Literal["GSM-7", "UCS-2"]

GSM7_SINGLE = 160
GSM7_PART = 153  # the user data header of a concatenated message takes 7 septets
UCS2_SINGLE = 70
UCS2_PART = 67
#: Twilio refuses a body longer than this (error 21617).
MAX_BODY = 1600

_SPACE = re.compile(r"\s")


@dataclass(frozen=True)
class SegmentInfo:
    """How a text travels: its encoding, its segments and its length in that encoding's units."""

    encoding: Encoding
    segments: int
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2


_GSM7 = BASIC | EXTENSION


def _ucs2_units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def encoding_of(text: str) -> Encoding:
    """GSM-7 when every character is in the alphabet or its extension, else UCS-2."""
    return "GSM-7" if _GSM7.issuperset(text) else "UCS-2"


def _pack(sizes: list[int], single: int, part: int) -> int:
    """Segments needed, never cutting a character in two (an escape pair or a surrogate pair
    always travels in one segment, as phones and Twilio's calculator do)."""
    total = sum(sizes)
    if total <= single:
        return 1 if sizes else 0
    count, used = 1, 0
    for size in sizes:
        if used + size > part:
            count += 1
            used = 0
        used += size
    return count


def segment_info(text: str) -> SegmentInfo:
    """The exact segment count of a text as it will be sent."""
    chars = set(text)
    if _GSM7.issuperset(chars):
        if chars.isdisjoint(EXTENSION):  # one septet each: no pair to keep together
            return SegmentInfo("GSM-7", _even(len(text), GSM7_SINGLE, GSM7_PART), len(text))
        sizes = [septets(ch) or 0 for ch in text]
        return SegmentInfo("GSM-7", _pack(sizes, GSM7_SINGLE, GSM7_PART), sum(sizes))
    units = _length(text)
    if units == len(text):  # no surrogate pair to keep together
        return SegmentInfo("UCS-2", _even(units, UCS2_SINGLE, UCS2_PART), units)
    sizes = [_ucs2_units(ch) for ch in text]
    return SegmentInfo("UCS-2", _pack(sizes, UCS2_SINGLE, UCS2_PART), units)


def _even(units: int, single: int, part: int) -> int:
    """`_pack` for characters of one unit each (most texts), without a loop over them."""
    if units <= single:
        return 1 if units else 0
    return -(-units // part)


def count_segments(text: str) -> int:
    return segment_info(text).segments


def _length(text: str) -> int:
    # UTF-16 code units: what the provider's 1,600-character limit is measured in.
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def split_text(text: str, limit: int = MAX_BODY) -> list[str]:
    """Cut a text into parts of at most `limit` units, at the last space before the limit
    (a word longer than the limit is cut where it must). Joined with spaces they read as one."""
    if limit < 2:
        raise ValueError("limit must be at least 2")
    parts: list[str] = []
    rest = text.strip()
    while _length(rest) > limit:
        cut, used = 0, 0
        for index, char in enumerate(rest):
            used += _ucs2_units(char)
            if used > limit:
                break
            cut = index + 1
        window = rest[:cut]
        spaces = [m.start() for m in _SPACE.finditer(window)]
        at = spaces[-1] if spaces and spaces[-1] > 0 else cut
        parts.append(rest[:at].rstrip())
        rest = rest[at:].lstrip()
    if rest:
        parts.append(rest)
    return parts

"""What a responder's message means: accept, decline, done, check in, an outcome, or chat."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["accept", "decline", "done", "checkin", "outcome", "relay"]

_CODE = r"[A-HJ-NP-Z2-9]{4,6}"  # bot.handoff.requests.CODE_LENGTHS
_PATTERNS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    ("accept", re.compile(rf"^(?:A|ACCEPT|/ACCEPT)(?:\s+({_CODE}))?$")),
    ("decline", re.compile(rf"^(?:N|NO|DECLINE|/DECLINE|CAN'?T(?: NOW)?)(?:\s+({_CODE}))?$")),
    ("done", re.compile(rf"^/?DONE(?:\s+({_CODE}))?$")),
    ("checkin", re.compile(rf"^/?CHECK-?IN(?:\s+({_CODE}))?$")),
)
_OUTCOME = re.compile(r"^([1-5])(?:\s+(" + _CODE + r"))?$")
_CODE_PREFIX = re.compile(rf"^({_CODE})[:\s]\s*(.+)$", re.DOTALL)


@dataclass(frozen=True)
class Command:
    kind: Kind
    code: str | None = None
    text: str = ""
    number: int | None = None
    #: The message as written, for a relay whose prefix turns out not to be a code.
    raw: str = field(default="", compare=False)


def parse_command(text: str) -> Command:
    """Commands are short and case-insensitive; anything else is a message for the person."""
    stripped = text.strip()
    upper = " ".join(stripped.upper().split())
    for kind, pattern in _PATTERNS:
        match = pattern.match(upper)
        if match:
            return Command(kind, code=match.group(1))
    outcome = _OUTCOME.match(upper)
    if outcome:
        return Command("outcome", code=outcome.group(2), number=int(outcome.group(1)))
    prefixed = _CODE_PREFIX.match(stripped)
    if prefixed and re.fullmatch(_CODE, prefixed.group(1)):
        return Command(
            "relay", code=prefixed.group(1), text=prefixed.group(2).strip(), raw=stripped
        )
    return Command("relay", text=stripped)

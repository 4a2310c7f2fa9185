"""Effects: plain data the pure runtime returns and the service layer carries out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Urgency = Literal["crisis", "urgent", "today", "scheduled", "routine"]
CrisisKind = Literal["overdose", "suicide"]


@dataclass(frozen=True)
class ChoiceView:
    """A numbered option as a text channel prints it or a chat channel shows it as a button."""

    number: int
    value: str
    label: str


@dataclass(frozen=True)
class Say:
    """Send one message. `text` is the English msgid; the service translates and fills it."""

    text: str
    params: Mapping[str, str] = field(default_factory=dict)
    choices: tuple[ChoiceView, ...] = ()
    skippable: bool = False
    step: str | None = None


@dataclass(frozen=True)
class SetSlot:
    name: str
    value: str | None


@dataclass(frozen=True)
class SetLanguage:
    language: str


@dataclass(frozen=True)
class RequestHandoff:
    """Store a handoff request; routing to a responder happens outside the dialogue."""

    kind: Literal["intake", "talk_to_person", "crisis"]
    urgency: Urgency
    help_kind: str | None
    contact_method: str | None
    contact_time: str | None
    display_name: str | None
    info_topic: str | None = None


@dataclass(frozen=True)
class RecordConsent:
    granted: bool
    withdrawn: bool = False


@dataclass(frozen=True)
class Alert:
    """Tell staff at once (crisis); the service turns it into an urgent handoff and an event."""

    kind: CrisisKind


@dataclass(frozen=True)
class OptOut:
    """The person asked in words to stop receiving messages."""


@dataclass(frozen=True)
class End:
    """The dialogue has ended."""


Effect = Say | SetSlot | SetLanguage | RequestHandoff | RecordConsent | Alert | OptOut | End

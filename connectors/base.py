"""What every channel connector shares: the normalised messages and the small base class."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:  # the web app's type; a command that runs no server never imports FastAPI
    from fastapi import APIRouter

_STEP_NAME = re.compile(r"^[a-z0-9_]{1,24}$")


@dataclass(frozen=True)
class AnswerTo:
    """The question a tapped button answers: the conversation and the step it was shown at.

    `receive()` checks it under the person's lock, so of two taps on the same button (even in
    two server processes) only the first is acted on."""

    conversation_id: int
    step_token: str


def step_token(step: str) -> str:
    """A step as written when short, else a digest: fits in a button's 64-byte payload."""
    if _STEP_NAME.match(step):
        return step
    return "~" + hashlib.sha256(step.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class InboundMessage:
    """A message from a person, as every part past the connector sees it."""

    channel: str
    address: str
    text: str
    provider_id: str | None
    received_at: dt.datetime
    language_hint: str | None = None
    referral_code: str | None = None
    media_count: int = 0
    provider_opt_out: str | None = None  # the provider already handled STOP/START/HELP
    answers: AnswerTo | None = None  # a button's answer, valid only at the step it was shown


@dataclass(frozen=True)
class OutboundChoice:
    number: int
    value: str
    label: str


@dataclass(frozen=True)
class OutboundMessage:
    """A message to send, translated, with its choices kept apart so each channel can show
    them its own way (buttons, or numbered lines through `render_text`)."""

    channel: str
    address: str
    text: str
    choices: tuple[OutboundChoice, ...] = ()
    hint: str | None = None
    skip_label: str | None = None
    step: str | None = None
    message_id: int | None = None
    conversation_id: int | None = None
    right_to_left: bool = False


@dataclass(frozen=True)
class Capabilities:
    buttons: bool = False
    max_length: int = 4096
    reply_in_response: bool = False


@dataclass(frozen=True)
class SendResult:
    """What the provider said: its message id, or why it failed and whether to retry."""

    provider_id: str | None = None
    error_code: str | None = None
    permanent: bool = False
    retry_after: float | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error_code is None


def render_text(message: OutboundMessage) -> str:
    """The one place where choices degrade to text: numbered lines, then the hint."""
    parts = [message.text]
    if message.choices:
        parts.append("\n".join(f"{c.number}. {c.label}" for c in message.choices))
    if message.hint:
        parts.append(message.hint)
    return "\n".join(part for part in parts if part)


class Connector(ABC):
    """One channel: verify and parse the provider's requests, send through its API."""

    name: ClassVar[str]
    #: Fields of this provider's payloads that must never reach a log.
    REDACT: ClassVar[tuple[str, ...]] = ()
    capabilities: ClassVar[Capabilities] = Capabilities()

    def routes(self) -> APIRouter | None:
        """The HTTP routes (webhooks, pages) this connector adds to the web app."""
        return None

    @abstractmethod
    async def send(self, message: OutboundMessage) -> SendResult:
        """Deliver one message; map provider errors to a `SendResult`, never raise for them."""


def rejected(status: int, reason: str) -> Exception:
    """The HTTP error a webhook answers with (the app turns it into JSON with the reason).
    Starlette is imported only when a request is refused: a worker process that only sends
    through a connector never loads the web stack."""
    from starlette.exceptions import HTTPException

    return HTTPException(status, detail=reason)

"""The hook for messages from a linked coach's chat: they never enter the person intake."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.services import Services
from connectors.base import OutboundMessage
from connectors.telegram_texts import MSG_COACH_HELP


@dataclass(frozen=True)
class CoachMessage:
    """What a linked responder sent: text, or the data of a button they tapped."""

    responder_id: int
    channel: str
    address: str
    text: str
    button_data: str | None
    language: str
    received_at: dt.datetime


class CoachHandler(Protocol):
    """Handles one coach message in a worker thread (it may use the database) and returns
    the replies to send to that chat. The handoff component plugs Accept / Can't-now and
    relay in here."""

    def __call__(self, services: Services, message: CoachMessage) -> Sequence[OutboundMessage]: ...


def coach_help(services: Services, message: CoachMessage) -> Sequence[OutboundMessage]:
    """Until alerts and relay exist: say what this linked chat is for."""
    translator = services.catalogs.translator(message.language)
    return [
        OutboundMessage(
            channel=message.channel,
            address=message.address,
            text=translator.gettext(MSG_COACH_HELP),
            right_to_left=translator.right_to_left,
        )
    ]

"""The hook for messages from a linked coach's chat: they never enter the person intake."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.conversations import receive
from bot.services import Services
from connectors.base import InboundMessage, OutboundMessage
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


def handoff_coach(services: Services, message: CoachMessage) -> Sequence[OutboundMessage]:
    """Accept / Can't now, relay and outcomes: the same path as a coach's SMS, through
    `receive()`, which recognises the linked chat as a responder's. Replies go through the
    outbox (queued in that transaction), so nothing is returned to send directly."""
    # /start from a coach opens the chat: it answers with what is open, never with STOP/START
    # compliance texts meant for people.
    text = "" if message.text.strip().lower().startswith("/start") else message.text
    inbound = InboundMessage(
        channel=message.channel,
        address=message.address,
        text=text,
        provider_id=None,
        received_at=message.received_at,
    )
    receive(services, inbound, reply_inline=False)  # it wakes the outbox
    return []


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

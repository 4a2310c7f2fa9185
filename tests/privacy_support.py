"""Shared by the privacy tests: one full intake conversation with data we can search for."""

from __future__ import annotations

import datetime as dt

from bot.conversations import receive
from bot.services import Services
from connectors.base import InboundMessage

PHONE = "+15555550147"
NAME = "Quillonia Brevant"
#: A first message whose words appear nowhere else in the code or the flows.
PHRASE = "zephyrtangle marmalade grievance"
#: The answers after the first message: help today, the name, then safe / contact / time / yes.
ANSWERS = ("1", NAME, "1", "1", "1", "1")


def inbound(text: str, provider_id: str, address: str = PHONE) -> InboundMessage:
    return InboundMessage(
        channel="sms",
        address=address,
        text=text,
        provider_id=provider_id,
        received_at=dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC),
    )


def full_conversation(services: Services, address: str = PHONE, prefix: str = "SM") -> list[str]:
    """Run the whole intake to a handoff; returns every reply text."""
    replies: list[str] = []
    for i, text in enumerate((PHRASE, *ANSWERS)):
        result = receive(services, inbound(text, f"{prefix}{i}", address), reply_inline=False)
        replies.extend(reply.text for reply in result.replies)
    return replies


def secrets_in(text: str) -> list[str]:
    """Which of the conversation's personal values appear in `text`."""
    needles = {
        "phone": PHONE,
        "phone digits": PHONE.lstrip("+"),
        "local number": PHONE[2:],
        "name": NAME,
        "surname": NAME.split()[1],
        "phrase": PHRASE,
        "phrase word": PHRASE.split()[0],
    }
    return [label for label, needle in needles.items() if needle in text]

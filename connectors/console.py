"""The terminal channel behind `doorway chat`: lines in, the bot's replies out."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterable
from typing import ClassVar, TextIO

from bot.conversations import receive
from bot.services import Services
from connectors.base import (
    Capabilities,
    Connector,
    InboundMessage,
    OutboundMessage,
    SendResult,
    render_text,
)

CHANNEL = "console"


class ConsoleConnector(Connector):
    """Reads from a stream (a terminal or a script) and prints replies as plain text."""

    name: ClassVar[str] = CHANNEL
    capabilities: ClassVar[Capabilities] = Capabilities(reply_in_response=True)

    def __init__(self, services: Services, out: TextIO = sys.stdout) -> None:
        self.services = services
        self.out = out

    async def send(self, message: OutboundMessage) -> SendResult:
        self.print(message)
        return SendResult(provider_id=f"console-{uuid.uuid4().hex}")

    def print(self, message: OutboundMessage) -> None:
        prefix = "\u200f" if message.right_to_left else ""
        for line in render_text(message).splitlines():
            self.out.write(f"{prefix}bot> {line}\n")
        self.out.write("\n")
        self.out.flush()

    def converse(
        self, lines: Iterable[str], *, address: str, language: str | None, prompt: bool
    ) -> int:
        """Send each line as a message from `address`; returns how many were sent."""
        sent = 0
        if prompt:
            self.out.write("Type a message (Ctrl-D to quit).\n> ")
            self.out.flush()
        for line in lines:
            text = line.rstrip("\n")
            inbound = InboundMessage(
                channel=CHANNEL,
                address=address,
                text=text,
                provider_id=f"console-{uuid.uuid4().hex}",
                received_at=self.services.clock(),
                language_hint=language,
            )
            for reply in receive(self.services, inbound, reply_inline=True).in_response:
                self.print(reply)
            sent += 1
            if prompt:
                self.out.write("> ")
                self.out.flush()
        return sent

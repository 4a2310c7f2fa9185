"""The web chat channel: replies ride in the HTTP response, so sending later is a no-op.

The page and its JSON API are in `connectors.web_chat_routes`, imported only by the web app:
the outbox worker builds this connector too, and should not load FastAPI to do it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from bot.services import Services
from connectors.base import Capabilities, Connector, OutboundMessage, SendResult

if TYPE_CHECKING:
    from fastapi import APIRouter

CHANNEL = "web"


class WebChatConnector(Connector):
    """Replies ride in the HTTP response; there is nothing to send later."""

    name: ClassVar[str] = CHANNEL
    REDACT: ClassVar[tuple[str, ...]] = ("text", "authorization")
    capabilities: ClassVar[Capabilities] = Capabilities(buttons=True, reply_in_response=True)

    def __init__(self, services: Services) -> None:
        self.services = services

    async def send(self, message: OutboundMessage) -> SendResult:
        # The page fetches its history; a message queued for later is shown on the next poll.
        return SendResult(provider_id=None)

    def routes(self) -> APIRouter:
        from connectors.web_chat_routes import chat_routes

        return chat_routes(self.services)

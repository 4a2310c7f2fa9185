"""The web chat's page at `/` and the small JSON API it talks to (the web app only)."""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from bot.conversations import outbound_from_stored, receive
from bot.identities import find_identity
from bot.models import Message
from bot.services import Services
from bot.web.app import templates
from connectors.base import InboundMessage, OutboundMessage
from connectors.web_chat import CHANNEL

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{32,64}$")
HISTORY_LIMIT = 200


class NewMessage(BaseModel):
    """What the page posts: the text and an id the page made, so a retry is not doubled."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=20_000)
    client_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class ChoiceOut(BaseModel):
    number: int
    label: str


class ReplyOut(BaseModel):
    id: int | None
    direction: str
    text: str
    choices: list[ChoiceOut] = []
    hint: str | None = None


class Replies(BaseModel):
    replies: list[ReplyOut]


class SessionOut(BaseModel):
    token: str


def session_address(token: str) -> str:
    """The stored address is a hash of the token: the database never holds the token."""
    return "web:" + hashlib.sha256(token.encode("ascii")).hexdigest()[:40]


def token_address(authorization: Annotated[str | None, Header()] = None) -> str:
    """The session's stored address, from its Bearer token; 401 without a valid one."""
    token = (authorization or "").removeprefix("Bearer ").strip()
    if not TOKEN_PATTERN.match(token):
        raise HTTPException(401, detail="a chat session token is needed")
    return session_address(token)


SessionAddress = Annotated[str, Depends(token_address)]


def _reply(message: OutboundMessage, direction: str = "out") -> ReplyOut:
    return ReplyOut(
        id=message.message_id,
        direction=direction,
        text=message.text,
        choices=[ChoiceOut(number=c.number, label=c.label) for c in message.choices],
        hint=message.hint,
    )


def chat_routes(services: Services) -> APIRouter:
    """`/` and `/api/chat/*`: the page, a new session, the history and a new message."""
    router = APIRouter()
    page_templates = templates()

    @router.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page(request: Request) -> HTMLResponse:
        translator = services.catalogs.translator(services.program.default_language)
        return page_templates.TemplateResponse(
            request,
            "chat.html",
            {
                "program": services.program,
                "t": translator.gettext,
                "lang": translator.language.replace("_", "-"),
                "rtl": translator.right_to_left,
            },
        )

    @router.post("/api/chat/session", response_model=SessionOut)
    def new_session() -> SessionOut:
        """Start a chat session; the page keeps the token and sends it as a Bearer."""
        return SessionOut(token=secrets.token_urlsafe(32))

    @router.get("/api/chat/messages", response_model=Replies)
    def history(address: SessionAddress) -> Replies:
        """The conversation so far, so it survives a page reload."""
        with services.read_sessions() as session:
            identity = find_identity(session, services.vault, CHANNEL, address)
            if identity is None:
                return Replies(replies=[])
            rows = session.scalars(
                select(Message)
                .where(Message.identity_id == identity.id)
                .order_by(Message.id.desc())
                .limit(HISTORY_LIMIT)
            ).all()
            out = [
                _reply(outbound_from_stored(row, address), row.direction) for row in reversed(rows)
            ]
        return Replies(replies=out)

    @router.post("/api/chat/messages", response_model=Replies)
    def post_message(body: NewMessage, address: SessionAddress) -> Replies:
        inbound = InboundMessage(
            channel=CHANNEL,
            address=address,
            text=body.text,
            provider_id=f"{address[4:20]}:{body.client_id}",
            received_at=services.clock(),
        )
        result = receive(services, inbound, reply_inline=True)
        return Replies(replies=[_reply(m) for m in result.in_response])

    return router

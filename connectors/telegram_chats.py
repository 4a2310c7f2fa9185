"""What the database says about a Telegram chat (run in a worker thread: these block)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy import Select, bindparam, literal, select

from bot.config import Program
from bot.conversations import current_conversation
from bot.db import reading, transaction
from bot.identities import address_index, find_identity
from bot.models import ChannelIdentity, Message, Responder
from bot.responder_links import redeem_link_code
from bot.services import Services
from connectors.base import step_token
from connectors.telegram_callbacks import ButtonTap

CHANNEL = "telegram"


@dataclass(frozen=True)
class ChatState:
    """Who is writing: a linked responder, and whether the chat's person opted out."""

    responder_id: int | None
    responder_language: str | None
    opted_out: bool


def chat_state(services: Services, chat: str) -> ChatState:
    """One statement (on every update, before anything else is done): the responder linked to
    this chat and whether its person opted out. As two ORM queries it was about a tenth of the
    server's CPU under Telegram load."""
    index = address_index(services.vault, CHANNEL, chat)
    with reading(services.engine) as connection:
        row = connection.execute(_chat_state_statement(), {"index": index}).one()
    languages = row.languages or []
    return ChatState(
        responder_id=row.responder_id,
        responder_language=languages[0] if languages else None,
        opted_out=bool(row.opted_out),
    )


@functools.cache
def _chat_state_statement() -> Select[tuple[int | None, list[str] | None, bool | None]]:
    """Built once. One row always: a row of nothing joined to the linked responder, if any,
    with the identity's opt-out beside it; each is a lookup on an index of the blind index."""
    opted_out = (
        select(ChannelIdentity.opted_out)
        .where(
            ChannelIdentity.channel == CHANNEL,
            ChannelIdentity.address_index == bindparam("index"),
        )
        .scalar_subquery()
    )
    one_row = select(literal(1).label("one")).subquery()
    return (
        select(
            Responder.id.label("responder_id"),
            Responder.languages.label("languages"),
            opted_out.label("opted_out"),
        )
        .select_from(one_row)
        .outerjoin(Responder, Responder.telegram_index == bindparam("index"))
        .limit(1)
    )


def tap_is_current(services: Services, chat: str, provider_id: str, tap: ButtonTap) -> bool:
    """Whether a verified button belongs to this chat's current conversation at its current
    step, or is a retry of a tap already handled (which `receive` then replays)."""
    with services.read_sessions() as session:
        handled = session.scalar(
            select(Message.id).where(Message.channel == CHANNEL, Message.provider_id == provider_id)
        )
        if handled is not None:
            return True
        identity = find_identity(session, services.vault, CHANNEL, chat)
        if identity is None or identity.opted_out:
            return False
        conversation = current_conversation(session, identity.contact_id, services.clock())
        return (
            conversation is not None
            and conversation.id == tap.conversation_id
            and conversation.status == "active"
            and step_token(conversation.step) == tap.step_token
        )


def chat_language(services: Services, chat: str, hint: str | None) -> str:
    """The language this chat's person uses with us, else Telegram's guess."""
    with services.read_sessions() as session:
        identity = find_identity(session, services.vault, CHANNEL, chat)
        if identity is None:
            return pick_language(services.program, None, hint)
        conversation = current_conversation(session, identity.contact_id, services.clock())
        if conversation is not None:
            return conversation.language
        return pick_language(services.program, identity.contact.language, hint)


def pick_language(program: Program, stored: str | None, hint: str | None) -> str:
    """A stored language if enabled, else Telegram's `language_code` ("es-MX" -> "es")."""
    if stored in program.languages:
        return str(stored)
    if hint:
        base = hint.replace("-", "_").split("_")[0].lower()
        for enabled in program.languages:
            if enabled == hint or enabled.split("_")[0].lower() == base:
                return enabled
    return program.default_language


def link_chat(services: Services, chat: str, code: str) -> bool:
    """Redeem a coach's one-time code for this chat."""
    with transaction(services.sessions) as session:
        responder = redeem_link_code(
            session, services.vault, code, channel=CHANNEL, address=chat, now=services.clock()
        )
        return responder is not None

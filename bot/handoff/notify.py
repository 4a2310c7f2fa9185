"""Queue messages to a handoff's person or to a responder, in each one's language."""

from __future__ import annotations

import datetime as dt

from babel import Locale, UnknownLocaleError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.i18n import Translator, fill
from bot.identities import find_or_create_identity
from bot.messaging import queue_outbound
from bot.models import ChannelIdentity, Contact, Conversation, Handoff, Responder
from bot.render import program_params
from bot.services import Services
from connectors.base import OutboundChoice, OutboundMessage


def responder_language(responder: Responder) -> str:
    return responder.languages[0] if responder.languages else "en"


def responder_translator(services: Services, responder: Responder) -> Translator:
    return services.catalogs.translator(responder_language(responder))


def language_name(code: str, translator: Translator) -> str:
    """'es' as the reader says it: 'Spanish', 'espagnol', ..."""
    try:
        name = Locale.parse(code).get_display_name(translator.locale)
    except (UnknownLocaleError, ValueError):
        return code
    return name or code


def responder_identity(
    services: Services, session: Session, responder: Responder, now: dt.datetime
) -> ChannelIdentity | None:
    """The channel alerts go to: Telegram when linked, else SMS; None when neither is set."""
    if responder.telegram_chat:
        channel, address = "telegram", responder.telegram_chat
    elif responder.sms_phone:
        channel, address = "sms", responder.sms_phone
    else:
        return None
    identity = find_or_create_identity(session, services.vault, channel, address, now)
    contact = session.get(Contact, identity.contact_id)
    if contact is not None and contact.responder_id != responder.id:
        contact.responder_id = responder.id
    return identity


def tell_responder(
    services: Services,
    session: Session,
    responder: Responder,
    msgid: str,
    now: dt.datetime,
    *,
    params: dict[str, str] | None = None,
    choices: tuple[tuple[str, str], ...] = (),
    hint: str | None = None,
    force: bool = False,
) -> int | None:
    """Queue one message to a responder; returns its id (None: no way to reach them).
    `choices` are (command, label msgid) pairs that chat channels show as buttons and SMS as
    the hint's commands."""
    identity = responder_identity(services, session, responder, now)
    if identity is None:
        return None
    translator = responder_translator(services, responder)
    values = {**program_params(services.program, translator), **(params or {})}
    outbound = OutboundMessage(
        channel=identity.channel,
        address=identity.address,
        text=fill(translator.gettext(msgid), values),
        choices=tuple(
            OutboundChoice(i, command, translator.gettext(label))
            for i, (command, label) in enumerate(choices, start=1)
        ),
        hint=fill(translator.gettext(hint), values) if hint else None,
        step="coach" if choices else None,
    )
    return queue_outbound(session, identity, outbound, now, force=force)


def person_conversation(session: Session, handoff: Handoff) -> Conversation | None:
    if handoff.conversation_id is None:
        return None
    return session.get(Conversation, handoff.conversation_id)


def person_identity(session: Session, handoff: Handoff) -> ChannelIdentity | None:
    conversation = person_conversation(session, handoff)
    if conversation is not None:
        return session.get(ChannelIdentity, conversation.identity_id)
    return session.scalar(
        select(ChannelIdentity).where(ChannelIdentity.contact_id == handoff.contact_id).limit(1)
    )


def tell_person(
    services: Services,
    session: Session,
    handoff: Handoff,
    msgid: str,
    now: dt.datetime,
    *,
    params: dict[str, str] | None = None,
    text: str | None = None,
) -> int | None:
    """Queue a message to the person in their language; returns its id (None: opted out or
    unreachable). `text` sends words as written (relay)."""
    identity = person_identity(session, handoff)
    if identity is None or identity.opted_out or identity.unreachable:
        return None
    translator = services.catalogs.translator(handoff.language)
    values = {**program_params(services.program, translator), **(params or {})}
    body = text if text is not None else fill(translator.gettext(msgid), values)
    outbound = OutboundMessage(
        channel=identity.channel,
        address=identity.address,
        text=body,
        right_to_left=translator.right_to_left,
    )
    return queue_outbound(session, identity, outbound, now, conversation_id=handoff.conversation_id)

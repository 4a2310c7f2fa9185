"""A responder's message: answer an offer, talk to the person, close with an outcome."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.console import satisfaction
from bot.crypto import Vault
from bot.events import record
from bot.handoff import texts
from bot.handoff.commands import Command, parse_command
from bot.handoff.notify import person_conversation, tell_person, tell_responder
from bot.handoff.offers import accept, consent_given, decline
from bot.handoff.roster import HOLDING_CAPACITY
from bot.models import ChannelIdentity, Contact, Handoff, HandoffOffer, Responder
from bot.services import Services

ACTIVE = ("accepted", "connected")
OUTCOME_STATUS = {
    "connected": "completed",
    "no_answer": "no_answer",
    "referred": "completed",
    "declined": "declined",
    "other": "completed",
}
INDEX_FIELD = {"telegram": "telegram_index", "sms": "sms_index"}


def responder_for(
    session: Session, vault: Vault, identity: ChannelIdentity, contact: Contact
) -> Responder | None:
    """The responder behind an address, if it is one: their messages never enter the intake."""
    if contact.responder_id is not None:
        return session.get(Responder, contact.responder_id)
    field = INDEX_FIELD.get(identity.channel)
    if field is None:
        return None
    responder = session.scalar(
        select(Responder).where(
            getattr(Responder, field) == vault.blind_index(identity.channel, identity.address)
        )
    )
    if responder is not None:
        contact.responder_id = responder.id
    return responder


def handle(
    services: Services, session: Session, responder: Responder, text: str, now: dt.datetime
) -> None:
    """Carry out one message from a responder; replies to them are queued on their channel."""
    command = parse_command(text)
    if command.kind in ("accept", "decline"):
        _answer_offer(services, session, responder, command, now)
    elif command.kind == "done":
        _with_active(services, session, responder, command, now, _done)
    elif command.kind == "checkin":
        _with_active(services, session, responder, command, now, _check_in)
    elif command.kind == "outcome":
        _outcome(services, session, responder, command, now)
    else:
        _relay(services, session, responder, command, now)


def _pending_offers(session: Session, responder: Responder) -> list[Handoff]:
    return list(
        session.scalars(
            select(Handoff)
            .join(HandoffOffer, HandoffOffer.handoff_id == Handoff.id)
            .where(HandoffOffer.responder_id == responder.id, HandoffOffer.status == "pending")
            .order_by(Handoff.id)
        )
    )


def _by_code(session: Session, code: str) -> Handoff | None:
    return session.scalar(select(Handoff).where(Handoff.code == code).with_for_update())


def _answer_offer(
    services: Services, session: Session, responder: Responder, command: Command, now: dt.datetime
) -> None:
    if command.code:
        handoff = _by_code(session, command.code)
    else:
        pending = _pending_offers(session, responder)
        handoff = pending[0] if len(pending) == 1 else None
        if len(pending) > 1:
            tell_responder(
                services,
                session,
                responder,
                texts.WHICH_CODE,
                now,
                params={"code": pending[0].code},
            )
            return
    if handoff is None:
        tell_responder(
            services,
            session,
            responder,
            texts.NO_SUCH_OFFER,
            now,
            params={"code": command.code or ""},
        )
        return
    if command.kind == "accept":
        answer = accept(services, session, responder, handoff, now)
        if answer.result == "taken":
            tell_responder(
                services,
                session,
                responder,
                texts.ALREADY_TAKEN,
                now,
                params={"code": handoff.code},
            )
    else:
        answer = decline(services, session, responder, handoff, now)
        if answer.result == "declined":
            tell_responder(
                services, session, responder, texts.DECLINED_OK, now, params={"code": handoff.code}
            )
    if answer.result == "no_offer":
        tell_responder(
            services, session, responder, texts.NO_SUCH_OFFER, now, params={"code": handoff.code}
        )


def active_handoffs(session: Session, responder: Responder) -> list[Handoff]:
    return list(
        session.scalars(
            select(Handoff)
            .where(
                Handoff.responder_id == responder.id, HOLDING_CAPACITY, Handoff.status.in_(ACTIVE)
            )
            .order_by(Handoff.id)
        )
    )


def _pick_active(
    services: Services, session: Session, responder: Responder, code: str | None, now: dt.datetime
) -> Handoff | None:
    active = active_handoffs(session, responder)
    if code:
        chosen = [h for h in active if h.code == code]
        return chosen[0] if chosen else None
    if len(active) == 1:
        return active[0]
    if active:
        tell_responder(
            services, session, responder, texts.WHICH_CODE, now, params={"code": active[0].code}
        )
    else:
        tell_responder(services, session, responder, texts.NO_OPEN, now)
    return None


HandoffAction = Callable[[Services, Session, Responder, Handoff, dt.datetime], None]


def _with_active(
    services: Services,
    session: Session,
    responder: Responder,
    command: Command,
    now: dt.datetime,
    action: HandoffAction,
) -> None:
    handoff = _pick_active(services, session, responder, command.code, now)
    if handoff is not None:
        action(services, session, responder, handoff, now)


def _relay(
    services: Services, session: Session, responder: Responder, command: Command, now: dt.datetime
) -> None:
    code = command.code
    active = active_handoffs(session, responder)
    if code and not any(h.code == code for h in active):
        command = Command("relay", text=command.raw or f"{code} {command.text}".strip())
        code = None
    handoff = _pick_active(services, session, responder, code, now)
    if handoff is None or not command.text:
        return
    message = tell_person(services, session, handoff, "", now, text=command.text)
    if message is None:
        tell_responder(
            services, session, responder, texts.PERSON_OPTED_OUT, now, params={"code": handoff.code}
        )
        return
    if handoff.status == "accepted":
        handoff.status = "connected"
        handoff.connected_at = now
        seconds = (now - handoff.created_at).total_seconds()
        record(
            session,
            "handoff_connected",
            now,
            handoff_id=handoff.id,
            contact_id=handoff.contact_id,
            seconds_to_contact=round(seconds, 1),
        )
    record(session, "relay_to_person", now, handoff_id=handoff.id)


def _check_in(
    services: Services, session: Session, responder: Responder, handoff: Handoff, now: dt.datetime
) -> None:
    tell_person(
        services, session, handoff, texts.CHECK_IN, now, params={"coach": responder.display_name}
    )
    handoff.checkins += 1
    record(session, "handoff_checkin", now, handoff_id=handoff.id, count=handoff.checkins)
    if handoff.checkins >= services.program.handoff.max_checkins and handoff.connected_at is None:
        _close(services, session, handoff, "no_answer", now)
        tell_responder(
            services, session, responder, texts.OUTCOME_SAVED, now, params={"code": handoff.code}
        )


def _done(
    services: Services, session: Session, responder: Responder, handoff: Handoff, now: dt.datetime
) -> None:
    handoff.outcome = "asked"
    conversation = person_conversation(session, handoff)
    if conversation is not None and conversation.status == "relay":
        conversation.status = "ended"
        conversation.updated_at = now
        tell_person(services, session, handoff, texts.CONVERSATION_CLOSED, now)
    record(session, "relay_closed", now, handoff_id=handoff.id)
    tell_responder(
        services,
        session,
        responder,
        texts.OUTCOME_QUESTION,
        now,
        params={"code": handoff.code},
        choices=tuple(
            (f"{i} {handoff.code}", label) for i, (_, label) in enumerate(texts.OUTCOMES, start=1)
        ),
    )


def _outcome(
    services: Services, session: Session, responder: Responder, command: Command, now: dt.datetime
) -> None:
    asked = [h for h in active_handoffs(session, responder) if h.outcome == "asked"]
    if command.code:
        asked = [h for h in asked if h.code == command.code]
    if len(asked) != 1 or command.number is None:
        _relay(services, session, responder, Command("relay", text=str(command.number)), now)
        return
    handoff = asked[0]
    outcome = texts.OUTCOMES[command.number - 1][0]
    _close(services, session, handoff, outcome, now)
    tell_responder(
        services, session, responder, texts.OUTCOME_SAVED, now, params={"code": handoff.code}
    )


def _close(
    services: Services, session: Session, handoff: Handoff, outcome: str, now: dt.datetime
) -> None:
    handoff.outcome = outcome
    handoff.status = OUTCOME_STATUS[outcome]
    handoff.closed_at = now
    conversation = person_conversation(session, handoff)
    if conversation is not None and conversation.status == "relay":
        conversation.status = "ended"
        conversation.updated_at = now
    record(
        session,
        "handoff_closed",
        now,
        handoff_id=handoff.id,
        contact_id=handoff.contact_id,
        outcome=outcome,
        status=handoff.status,
        consent=consent_given(session, handoff),
    )
    if handoff.status == "completed":
        satisfaction.ask(services, session, handoff, now)  # one optional 1-5 question

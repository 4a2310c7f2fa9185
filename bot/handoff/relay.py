"""The person's side of the relay chat: their words go to the responder, never their number."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.events import record
from bot.handoff import texts
from bot.handoff.notify import responder_translator, tell_responder
from bot.handoff.offers import consent_given
from bot.models import Handoff, Responder
from bot.services import Services

RELAY_STATUSES = ("accepted", "connected")


def relay_handoff(session: Session, contact_id: int) -> tuple[Handoff, Responder] | None:
    """The handoff whose responder is talking with this person now."""
    handoff = session.scalar(
        select(Handoff)
        .where(Handoff.contact_id == contact_id, Handoff.status.in_(RELAY_STATUSES))
        .order_by(Handoff.id.desc())
        .limit(1)
    )
    if handoff is None or handoff.responder_id is None:
        return None
    responder = session.get(Responder, handoff.responder_id)
    return (handoff, responder) if responder is not None else None


def person_to_responder(
    services: Services,
    session: Session,
    contact_id: int,
    text: str,
    now: dt.datetime,
    *,
    crisis: str | None = None,
) -> bool:
    """Forward what the person wrote; a crisis is flagged to the responder as urgent."""
    found = relay_handoff(session, contact_id)
    if found is None:
        return False
    handoff, responder = found
    translator = responder_translator(services, responder)
    name = handoff.display_name if consent_given(session, handoff) else None
    if crisis is not None:
        tell_responder(
            services,
            session,
            responder,
            texts.PERSON_IN_CRISIS,
            now,
            params={
                "code": handoff.code,
                "kind": crisis,
                "emergency": services.program.crisis.emergency,
            },
        )
    tell_responder(
        services,
        session,
        responder,
        texts.PERSON_SAID,
        now,
        params={
            "code": handoff.code,
            "name": name or translator.gettext(texts.SOMEONE),
            "text": text,
        },
    )
    record(session, "relay_to_responder", now, handoff_id=handoff.id, crisis=crisis is not None)
    return True


def tell_responder_about(
    services: Services, session: Session, contact_id: int, msgid: str, now: dt.datetime
) -> None:
    """Let the responder know the person opted out or withdrew consent."""
    found = relay_handoff(session, contact_id)
    if found is not None:
        handoff, responder = found
        tell_responder(services, session, responder, msgid, now, params={"code": handoff.code})

"""What a coach or supervisor does from the console, through the same handoff functions the
SMS and Telegram commands use; and the lists they work from."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.console.auth import Actor
from bot.console.satisfaction import rate_by_responder
from bot.events import record
from bot.handoff import coach, texts
from bot.handoff.notify import person_conversation, tell_responder
from bot.handoff.offers import OPEN_FOR_OFFERS, Answer, accept, decline, route
from bot.handoff.roster import HOLDING_CAPACITY, rotas
from bot.handoff.schedule import on_call_ids
from bot.models import Handoff, HandoffOffer, Message, Responder
from bot.services import Services

URGENCY_ORDER = {"crisis": 0, "urgent": 1, "today": 2, "scheduled": 3, "routine": 4}
QUEUE_STATUSES = ("requested", "offered", "accepted", "connected")


@dataclass(frozen=True)
class Offer:
    code: str
    urgency: str
    language: str
    pathway: str
    help_kind: str | None
    offered_at: dt.datetime


def pending_offers(session: Session, responder_id: int | None) -> list[Offer]:
    if responder_id is None:
        return []
    rows = session.execute(
        select(Handoff, HandoffOffer.offered_at)
        .join(HandoffOffer, HandoffOffer.handoff_id == Handoff.id)
        .where(HandoffOffer.responder_id == responder_id, HandoffOffer.status == "pending")
        .order_by(HandoffOffer.offered_at)
    ).all()
    return [
        Offer(h.code, h.urgency, h.language, h.pathway, h.info_topic or h.help_kind, at)
        for h, at in rows
    ]


def open_handoffs(session: Session, responder_id: int | None) -> list[Handoff]:
    if responder_id is None:
        return []
    return list(
        session.scalars(
            select(Handoff)
            .where(
                Handoff.responder_id == responder_id,
                HOLDING_CAPACITY,
                Handoff.status.in_(coach.ACTIVE),
            )
            .order_by(Handoff.accepted_at)
        )
    )


def find(session: Session, code: str) -> Handoff | None:
    return session.scalar(select(Handoff).where(Handoff.code == code.upper()))


def may_see(session: Session, actor: Actor, handoff: Handoff) -> bool:
    """Supervisors see every handoff; a coach only the ones offered or assigned to them."""
    if actor.at_least("supervisor"):
        return True
    if actor.responder_id is None:
        return False
    if handoff.responder_id == actor.responder_id:
        return True
    return (
        session.scalar(
            select(HandoffOffer.id).where(
                HandoffOffer.handoff_id == handoff.id,
                HandoffOffer.responder_id == actor.responder_id,
            )
        )
        is not None
    )


def may_read_messages(actor: Actor, handoff: Handoff) -> bool:
    """Message bodies: only the responder the handoff is assigned to (minimum necessary)."""
    return actor.responder_id is not None and handoff.responder_id == actor.responder_id


def relay_messages(
    session: Session, handoff: Handoff, after_id: int = 0
) -> list[tuple[int, str, str, dt.datetime]]:
    """(id, in|out, body, time) of the person's conversation since the handoff was accepted."""
    if handoff.conversation_id is None or handoff.accepted_at is None:
        return []
    conversation = person_conversation(session, handoff)
    if conversation is None:
        return []
    rows = session.scalars(
        select(Message)
        .where(
            Message.identity_id == conversation.identity_id,
            Message.created_at >= handoff.accepted_at,
            Message.id > after_id,
        )
        .order_by(Message.id)
        .limit(500)
    )
    return [(m.id, m.direction, m.body or "", m.created_at) for m in rows if m.body is not None]


def responder(session: Session, actor: Actor) -> Responder | None:
    return session.get(Responder, actor.responder_id) if actor.responder_id else None


def answer_offer(
    services: Services, session: Session, who: Responder, handoff: Handoff, yes: bool
) -> Answer:
    locked = session.scalar(select(Handoff).where(Handoff.id == handoff.id).with_for_update())
    assert locked is not None
    now = services.clock()
    return (accept if yes else decline)(services, session, who, locked, now)


def send_to_person(
    services: Services, session: Session, who: Responder, handoff: Handoff, text: str
) -> None:
    """Exactly what the responder writing "CODE text" on SMS or Telegram does."""
    coach.handle(services, session, who, f"{handoff.code} {text}", services.clock())


def close(
    services: Services,
    session: Session,
    who: Responder,
    handoff: Handoff,
    outcome: str,
    rating: int | None,
) -> None:
    """DONE, then the outcome's number: the same two commands a responder texts."""
    now = services.clock()
    number = [key for key, _ in texts.OUTCOMES].index(outcome) + 1
    coach.handle(services, session, who, f"DONE {handoff.code}", now)
    coach.handle(services, session, who, f"{number} {handoff.code}", now)
    if rating is not None:
        rate_by_responder(session, handoff, who.id, rating, now)


def queue(session: Session) -> list[Handoff]:
    """Open handoffs: crisis first, then by how long they have waited."""
    rows = list(session.scalars(select(Handoff).where(Handoff.status.in_(QUEUE_STATUSES))))
    return sorted(rows, key=lambda h: (URGENCY_ORDER.get(h.urgency, 9), h.created_at))


def on_call_now(services: Services, session: Session) -> list[Responder]:
    ids = on_call_ids(rotas(session), services.clock(), services.program.tz)
    if not ids:
        return []
    found = session.scalars(
        select(Responder).where(Responder.id.in_(ids), Responder.active.is_(True))
    )
    return sorted(found, key=lambda r: r.display_name)


def reassign(services: Services, session: Session, handoff: Handoff, to: Responder) -> str:
    """Give the handoff to `to`. Open: an offer they accept at once (the person hears who is
    coming). Already taken: the new responder takes over the relay."""
    now = services.clock()
    locked = session.scalar(select(Handoff).where(Handoff.id == handoff.id).with_for_update())
    assert locked is not None
    if locked.status in OPEN_FOR_OFFERS:
        session.add(
            HandoffOffer(
                handoff_id=locked.id,
                responder_id=to.id,
                round=locked.routing_round + 1,
                status="pending",
                escalation=False,
                offered_at=now,
            )
        )
        locked.routing_round += 1
        session.flush()
        return accept(services, session, to, locked, now).result
    if locked.status not in coach.ACTIVE:
        return "closed"
    before = locked.responder_id
    session.execute(update(Handoff).where(Handoff.id == locked.id).values(responder_id=to.id))
    session.refresh(locked)
    record(
        session,
        "handoff_reassigned",
        now,
        handoff_id=locked.id,
        contact_id=locked.contact_id,
        responder_id=to.id,
        previous_responder_id=before,
    )
    tell_responder(services, session, to, texts.ACCEPTED_BY_YOU, now, params={"code": locked.code})
    return "reassigned"


def escalate(services: Services, session: Session, handoff: Handoff) -> int:
    """Re-route now: pending offers lapse and the next responders are offered it."""
    now = services.clock()
    locked = session.scalar(select(Handoff).where(Handoff.id == handoff.id).with_for_update())
    assert locked is not None
    if locked.status not in OPEN_FOR_OFFERS:
        return 0
    for offer in session.scalars(
        select(HandoffOffer).where(
            HandoffOffer.handoff_id == locked.id, HandoffOffer.status == "pending"
        )
    ):
        offer.status, offer.answered_at = "expired", now
        record(session, "offer_expired", now, handoff_id=locked.id, responder_id=offer.responder_id)
    record(session, "handoff_rerouted", now, handoff_id=locked.id, contact_id=locked.contact_id)
    return route(services, session, locked, now)

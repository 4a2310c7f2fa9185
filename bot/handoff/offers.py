"""Offers: route a handoff to on-call responders, time out, escalate, and accept atomically."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import CursorResult, bindparam, select, update
from sqlalchemy.orm import Session

from bot.events import record
from bot.handoff import texts
from bot.handoff.booking import offer_booking
from bot.handoff.notify import (
    language_name,
    person_conversation,
    responder_translator,
    tell_person,
    tell_responder,
)
from bot.handoff.roster import Team, team
from bot.handoff.routing import RouteRequest, candidates, supervisors, wanted_skills
from bot.handoff.schedule import next_slots, on_call_ids
from bot.messaging import add_job, job_exists
from bot.models import Consent, Event, Handoff, HandoffOffer, OutboxJob, Responder
from bot.outbox import register_timer
from bot.services import Services

TIMER_ROUTE = "handoff.route"
TIMER_TIMEOUT = "handoff.offer_timeout"
OPEN_FOR_OFFERS = ("requested", "offered")


def schedule_routing(session: Session, handoff: Handoff, now: dt.datetime) -> None:
    """Route in the worker, right after this commit: the person's reply never waits for it.

    Once per handoff, round and instant: a second request at the same instant (found by a
    property test on a clock that stands still) would queue a second timer under the same
    unique key, and its failed INSERT would take the whole message with it.
    """
    key = f"handoff:{handoff.id}:route:{handoff.routing_round}:{now.isoformat()}"
    if job_exists(session, key):
        return
    add_job(
        session,
        kind="timer",
        idempotency_key=key,
        due_at=now,
        payload={"timer": TIMER_ROUTE, "handoff_id": handoff.id},
        created_at=now,
    )


def _route_timer(services: Services, session: Session, job: OutboxJob, now: dt.datetime) -> None:
    handoff = _locked(session, int(job.payload["handoff_id"]))
    if handoff is not None:
        route(services, session, handoff, now)


def _timeout_timer(services: Services, session: Session, job: OutboxJob, now: dt.datetime) -> None:
    handoff = _locked(session, int(job.payload["handoff_id"]))
    if handoff is None or handoff.status != "offered":
        return
    if int(job.payload.get("round", -1)) != handoff.routing_round:
        return  # a later round is running; this timer is stale
    expired = _close_pending(session, handoff, "expired", now)
    for offer in expired:
        record(
            session, "offer_expired", now, handoff_id=handoff.id, responder_id=offer.responder_id
        )
    route(services, session, handoff, now)


register_timer(TIMER_ROUTE, _route_timer)
register_timer(TIMER_TIMEOUT, _timeout_timer)


def _locked(session: Session, handoff_id: int) -> Handoff | None:
    return session.scalar(select(Handoff).where(Handoff.id == handoff_id).with_for_update())


def _close_pending(
    session: Session, handoff: Handoff, status: str, now: dt.datetime
) -> list[HandoffOffer]:
    pending = session.scalars(
        select(HandoffOffer).where(
            HandoffOffer.handoff_id == handoff.id, HandoffOffer.status == "pending"
        )
    ).all()
    for offer in pending:
        offer.status = status
        offer.answered_at = now
    return list(pending)


def consent_given(session: Session, handoff: Handoff) -> bool:
    if handoff.consent_id is None:
        return False
    consent = session.get(Consent, handoff.consent_id)
    return bool(consent and consent.granted and consent.withdrawn_at is None)


def route(services: Services, session: Session, handoff: Handoff, now: dt.datetime) -> int:
    """Offer the handoff to the next responders; returns how many offers went out."""
    if handoff.status not in OPEN_FOR_OFFERS:
        return 0
    if (
        handoff.help_kind == "schedule"
        and handoff.urgency != "crisis"
        and handoff.scheduled_for is None
        and handoff.routing_round == 0
    ):
        # The person asked for a time: offer times instead of offering them to a responder.
        handoff.routing_round += 1
        if offer_booking(services, session, handoff, now, lead=texts.BOOK_PICK):
            return 0
    tz = services.program.tz
    read = team(session)
    on_call = on_call_ids(read.rotas, now, tz)
    views = read.views
    tried = _tried(session, handoff)
    request = RouteRequest(
        language=handoff.language,
        wanted_skills=wanted_skills(handoff.help_kind, handoff.info_topic, handoff.urgency),
        exclude=frozenset(tried),
    )
    ranked = candidates(request, views, on_call)
    escalation = False
    if handoff.urgency == "crisis":
        chosen = ranked + [s for s in supervisors(views, on_call) if s.id not in tried]
    elif not ranked:
        chosen = [s for s in supervisors(views, on_call) if s.id not in tried]
        escalation = True
    elif services.program.handoff.offer_mode == "broadcast":
        chosen = ranked[: services.program.handoff.broadcast_size]
    else:
        chosen = ranked[:1]

    if not chosen:
        _nobody(services, session, handoff, now, read, anyone_on_call=bool(on_call))
        return 0
    handoff.routing_round += 1
    handoff.status = "offered"
    if escalation and handoff.escalated_at is None:
        handoff.escalated_at = now
        record(
            session, "handoff_escalated", now, handoff_id=handoff.id, contact_id=handoff.contact_id
        )
    for view in chosen:
        responder = read.responders[view.id]
        session.add(
            HandoffOffer(
                handoff_id=handoff.id,
                responder_id=responder.id,
                round=handoff.routing_round,
                status="pending",
                escalation=escalation,
                offered_at=now,
            )
        )
        responder.last_offered_at = now
        _alert(services, session, handoff, responder, now, escalation=escalation)
        record(
            session,
            "offer_sent",
            now,
            handoff_id=handoff.id,
            responder_id=responder.id,
            round=handoff.routing_round,
            escalation=escalation,
            urgency=handoff.urgency,
        )
    timeout = dt.timedelta(minutes=services.program.handoff.offer_timeout_minutes)
    add_job(
        session,
        kind="timer",
        idempotency_key=f"handoff:{handoff.id}:timeout:{handoff.routing_round}",
        due_at=now + timeout,
        payload={"timer": TIMER_TIMEOUT, "handoff_id": handoff.id, "round": handoff.routing_round},
        created_at=now,
    )
    return len(chosen)


def _tried(session: Session, handoff: Handoff) -> set[int]:
    """Responders already offered this handoff. Every offer (here or the console's) opens a
    routing round, so before the first there are none to look up: most routes are first."""
    if handoff.routing_round == 0:
        return set()
    return set(
        session.scalars(
            select(HandoffOffer.responder_id).where(HandoffOffer.handoff_id == handoff.id)
        )
    )


#: Was the person already told that nobody answered this handoff? On the partial index of
#: handoffs' events (`handoff_id = ?` implies its condition).
TOLD_UNANSWERED = (
    select(Event.id)
    .where(Event.handoff_id == bindparam("handoff_id"), Event.kind == "handoff_unanswered")
    .limit(1)
)


def _nobody(
    services: Services,
    session: Session,
    handoff: Handoff,
    now: dt.datetime,
    read: Team,
    *,
    anyone_on_call: bool,
) -> None:
    """Candidates ran out: keep it open at the top of the queue and tell the person honestly."""
    handoff.status = "requested"
    if handoff.escalated_at is None:
        handoff.escalated_at = now
    told_before = session.scalar(TOLD_UNANSWERED, {"handoff_id": handoff.id})
    record(
        session,
        "handoff_unanswered",
        now,
        handoff_id=handoff.id,
        contact_id=handoff.contact_id,
        on_call=anyone_on_call,
    )
    if told_before:
        return  # the person hears this once per handoff, not at every re-route
    if anyone_on_call:
        tell_person(services, session, handoff, texts.NOBODY_YET, now)
        return
    if handoff.urgency != "crisis":
        # Outside on-call hours: offer to book a time (or say there is none free).
        offer_booking(
            services,
            session,
            handoff,
            now,
            lead=texts.BOOK_NOBODY_NOW,
            none_free=texts.NOBODY_NO_TIMES,
            known_team=read,
        )
        return
    slots = next_slots(read.rotas, now, services.program.tz, count=1)
    translator = services.catalogs.translator(handoff.language)
    when = (
        translator.day_and_time(slots[0][0], services.program.tz, now)
        if slots
        else translator.gettext(texts.WHEN_SOON)
    )
    tell_person(services, session, handoff, texts.NOBODY_ON_CALL, now, params={"when": when})


def alert_params(
    services: Services, session: Session, handoff: Handoff, responder: Responder
) -> dict[str, str]:
    """Minimum necessary: a code, a name only with consent, language, help, urgency, contact."""
    translator = responder_translator(services, responder)
    t = translator.gettext
    name = (
        handoff.display_name if consent_given(session, handoff) and handoff.display_name else None
    )
    wanted = handoff.info_topic or handoff.help_kind
    contact = [
        t(texts.CONTACT_METHODS[handoff.contact_method])
        if handoff.contact_method in texts.CONTACT_METHODS
        else None,
        t(texts.CONTACT_TIMES[handoff.contact_time])
        if handoff.contact_time in texts.CONTACT_TIMES
        else None,
    ]
    return {
        "code": handoff.code,
        "urgency": t(texts.URGENCIES.get(handoff.urgency, handoff.urgency)),
        "name": name or t(texts.SOMEONE),
        "language": language_name(handoff.language, translator),
        "help": t(texts.HELP_KINDS[wanted]) if wanted in texts.HELP_KINDS else t(texts.NOT_SAID),
        "contact": ", ".join(c for c in contact if c) or t(texts.NOT_SAID),
        "pathway": t(texts.PATHWAYS.get(handoff.pathway, handoff.pathway)),
    }


def _alert(
    services: Services,
    session: Session,
    handoff: Handoff,
    responder: Responder,
    now: dt.datetime,
    *,
    escalation: bool,
) -> None:
    params = alert_params(services, session, handoff, responder)
    if escalation:
        tell_responder(services, session, responder, texts.ALERT_ESCALATED, now, params=params)
    tell_responder(
        services,
        session,
        responder,
        texts.ALERT,
        now,
        params=params,
        choices=(
            (f"A {handoff.code}", texts.ACCEPT_LABEL),
            (f"N {handoff.code}", texts.DECLINE_LABEL),
        ),
        hint=texts.ALERT_SMS_HINT,
    )


# --- answers from responders -------------------------------------------------------------------

AnswerResult = Literal["accepted", "taken", "declined", "no_offer"]


@dataclass(frozen=True)
class Answer:
    result: AnswerResult
    handoff: Handoff | None


def _offer_for(session: Session, handoff: Handoff, responder: Responder) -> HandoffOffer | None:
    return session.scalar(
        select(HandoffOffer)
        .where(
            HandoffOffer.handoff_id == handoff.id,
            HandoffOffer.responder_id == responder.id,
            HandoffOffer.status == "pending",
        )
        .order_by(HandoffOffer.id.desc())
        .limit(1)
    )


def accept(
    services: Services, session: Session, responder: Responder, handoff: Handoff, now: dt.datetime
) -> Answer:
    """Exactly one responder wins: a conditional UPDATE on the handoff's status decides."""
    offer = _offer_for(session, handoff, responder)
    if offer is None and responder.role != "supervisor":
        return Answer("no_offer", handoff)
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Handoff)
        .where(Handoff.id == handoff.id, Handoff.status.in_(OPEN_FOR_OFFERS))
        .values(status="accepted", responder_id=responder.id, accepted_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(handoff)
    if result.rowcount != 1:
        if offer is not None:
            offer.status = "taken"
            offer.answered_at = now
        return Answer("taken", handoff)
    if offer is not None:
        offer.status = "accepted"
        offer.answered_at = now
    others = _close_pending(session, handoff, "taken", now)
    for other in others:
        peer = session.get(Responder, other.responder_id)
        if peer is not None:
            tell_responder(
                services, session, peer, texts.ALREADY_TAKEN, now, params={"code": handoff.code}
            )
    seconds = (now - handoff.created_at).total_seconds()
    record(
        session,
        "handoff_accepted",
        now,
        handoff_id=handoff.id,
        contact_id=handoff.contact_id,
        responder_id=responder.id,
        seconds_to_accept=round(seconds, 1),
    )
    conversation = person_conversation(session, handoff)
    if conversation is not None and conversation.status != "closed":
        conversation.status = "relay"
        conversation.updated_at = now
    translator = services.catalogs.translator(handoff.language)
    when = {
        "morning": texts.WHEN_MORNING,
        "afternoon": texts.WHEN_AFTERNOON,
        "evening": texts.WHEN_EVENING,
    }.get(handoff.contact_time or "", texts.WHEN_SOON)
    tell_person(
        services,
        session,
        handoff,
        texts.COACH_COMING,
        now,
        params={
            "coach": responder.display_name,
            "role": translator.gettext(
                texts.ROLES.get(responder.role, texts.ROLES["peer_recovery_coach"])
            ),
            "when": translator.gettext(when),
        },
    )
    tell_responder(
        services, session, responder, texts.ACCEPTED_BY_YOU, now, params={"code": handoff.code}
    )
    return Answer("accepted", handoff)


def decline(
    services: Services, session: Session, responder: Responder, handoff: Handoff, now: dt.datetime
) -> Answer:
    """A decline moves on at once when nobody else in this round is still deciding."""
    offer = _offer_for(session, handoff, responder)
    if offer is None:
        return Answer("no_offer", handoff)
    offer.status = "declined"
    offer.answered_at = now
    record(session, "offer_declined", now, handoff_id=handoff.id, responder_id=responder.id)
    still_open = session.scalar(
        select(HandoffOffer.id).where(
            HandoffOffer.handoff_id == handoff.id, HandoffOffer.status == "pending"
        )
    )
    if still_open is None and handoff.status == "offered":
        route(services, session, handoff, now)
    return Answer("declined", handoff)


__all__ = ["Answer", "accept", "alert_params", "decline", "route", "schedule_routing"]

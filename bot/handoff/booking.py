"""Booking a time: offer free on-call slots, book one, remind both, reschedule or cancel."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.dialogue.matching import choice_number, fold
from bot.events import record
from bot.handoff import texts
from bot.handoff.notify import (
    person_conversation,
    person_identity,
    responder_translator,
    tell_responder,
)
from bot.handoff.roster import Team, team
from bot.handoff.routing import speaks
from bot.handoff.schedule import next_slots
from bot.i18n import fill
from bot.messaging import add_job, queue_outbound
from bot.models import Handoff, OutboxJob, Responder
from bot.outbox import register_timer
from bot.outbox.policy import recipient_zones
from bot.render import program_params
from bot.services import Services
from bot.sql_words import inline_word
from connectors.base import OutboundChoice, OutboundMessage

SLOTS_KEY = "_booking"
TIMER_REMINDER = "handoff.reminder"
REMIND_BEFORE = dt.timedelta(hours=1)
EARLIEST = dt.timedelta(minutes=30)
#: Times already booked with someone, on the partial index `ix_handoffs_booked` (its status
#: is written into the SQL so the planner can match it).
BOOKED_TIMES = select(Handoff.responder_id, Handoff.scheduled_for).where(
    Handoff.status == inline_word("accepted"), Handoff.scheduled_for.is_not(None)
)


def person_zone(services: Services, session: Session, handoff: Handoff) -> ZoneInfo:
    identity = person_identity(session, handoff)
    fallback = services.program.tz
    if identity is None or identity.channel != "sms":
        return fallback
    return recipient_zones(identity.address, fallback)[0]


def _slots(conversation_slots: str | None) -> dict[str, object]:
    return dict(json.loads(conversation_slots or "{}"))


def offer_booking(
    services: Services,
    session: Session,
    handoff: Handoff,
    now: dt.datetime,
    *,
    lead: str,
    none_free: str = texts.NO_TIMES,
    known_team: Team | None = None,
) -> bool:
    """Send the person the next free times (in their language and time zone), or `none_free`
    when there are none (then returns False). `known_team`: the routing that called this
    has just read it."""
    conversation = person_conversation(session, handoff)
    identity = person_identity(session, handoff)
    if conversation is None or identity is None or identity.opted_out:
        return False
    read = known_team or team(session)
    by_id = {v.id: v for v in read.views}
    eligible = [
        r
        for r in read.rotas
        if (v := by_id.get(r.responder_id)) is not None
        and v.active
        and v.role != "supervisor"
        and speaks(v, handoff.language)
    ]
    busy = [
        (int(responder_id or 0), scheduled_for)
        for responder_id, scheduled_for in session.execute(BOOKED_TIMES)
        if scheduled_for is not None
    ]
    found = next_slots(eligible, now + EARLIEST, services.program.tz, busy=busy)
    translator = services.catalogs.translator(handoff.language)
    values = program_params(services.program, translator)
    if not found:
        queue_outbound(
            session,
            identity,
            OutboundMessage(
                channel=identity.channel,
                address=identity.address,
                text=fill(translator.gettext(none_free), values),
            ),
            now,
            conversation_id=conversation.id,
        )
        return False
    zone = person_zone(services, session, handoff)
    slots = _slots(conversation.slots)
    slots[SLOTS_KEY] = [[at.isoformat(), who] for at, who in found]
    conversation.slots = json.dumps(slots)
    conversation.status = "booking"
    conversation.updated_at = now
    outbound = OutboundMessage(
        channel=identity.channel,
        address=identity.address,
        text=fill(translator.gettext(lead), values),
        choices=tuple(
            OutboundChoice(i, str(i), translator.day_and_time(at, zone, now))
            for i, (at, _) in enumerate(found, start=1)
        ),
        hint=translator.gettext(texts.BOOK_HINT),
        step="booking",
        right_to_left=translator.right_to_left,
    )
    queue_outbound(session, identity, outbound, now, conversation_id=conversation.id)
    record(session, "booking_offered", now, handoff_id=handoff.id, slots=len(found))
    return True


def handle_booking_reply(
    services: Services, session: Session, handoff: Handoff, text: str, now: dt.datetime
) -> bool:
    """The person answered the offer of times; returns False when the text was not a pick."""
    conversation = person_conversation(session, handoff)
    assert conversation is not None
    offered = _slots(conversation.slots).get(SLOTS_KEY) or []
    assert isinstance(offered, list)
    number = choice_number(text)
    if number is None or not 1 <= number <= len(offered):
        return False
    at_text, responder_id = offered[number - 1]
    book(services, session, handoff, dt.datetime.fromisoformat(at_text), int(responder_id), now)
    return True


def book(
    services: Services,
    session: Session,
    handoff: Handoff,
    at: dt.datetime,
    responder_id: int,
    now: dt.datetime,
) -> None:
    responder = session.get(Responder, responder_id)
    assert responder is not None
    handoff.scheduled_for = at
    handoff.responder_id = responder.id
    handoff.status = "accepted"
    handoff.accepted_at = now
    conversation = person_conversation(session, handoff)
    if conversation is not None:
        conversation.status = "relay"
        conversation.updated_at = now
    record(
        session,
        "handoff_booked",
        now,
        handoff_id=handoff.id,
        contact_id=handoff.contact_id,
        responder_id=responder.id,
        lead_hours=round((at - now).total_seconds() / 3600, 1),
    )
    _confirm(services, session, handoff, responder, now)
    if at - REMIND_BEFORE > now:
        add_job(
            session,
            kind="timer",
            idempotency_key=f"handoff:{handoff.id}:reminder:{at.isoformat()}",
            due_at=at - REMIND_BEFORE,
            payload={"timer": TIMER_REMINDER, "handoff_id": handoff.id, "at": at.isoformat()},
            created_at=now,
        )


def _person_text(
    services: Services,
    session: Session,
    handoff: Handoff,
    msgid: str,
    params: dict[str, str],
    now: dt.datetime,
) -> None:
    identity = person_identity(session, handoff)
    if identity is None:
        return
    translator = services.catalogs.translator(handoff.language)
    values = {**program_params(services.program, translator), **params}
    queue_outbound(
        session,
        identity,
        OutboundMessage(
            channel=identity.channel,
            address=identity.address,
            text=fill(translator.gettext(msgid), values),
            right_to_left=translator.right_to_left,
        ),
        now,
        conversation_id=handoff.conversation_id,
    )


def _confirm(
    services: Services, session: Session, handoff: Handoff, responder: Responder, now: dt.datetime
) -> None:
    assert handoff.scheduled_for is not None
    translator = services.catalogs.translator(handoff.language)
    zone = person_zone(services, session, handoff)
    _person_text(
        services,
        session,
        handoff,
        texts.BOOKED_PERSON,
        {
            "when": translator.day_and_time(handoff.scheduled_for, zone, now),
            "coach": responder.display_name,
            "role": translator.gettext(
                texts.ROLES.get(responder.role, texts.ROLES["peer_recovery_coach"])
            ),
        },
        now,
    )
    r_translator = responder_translator(services, responder)
    tell_responder(
        services,
        session,
        responder,
        texts.BOOKED_RESPONDER,
        now,
        params={
            "code": handoff.code,
            "when": r_translator.day_and_time(handoff.scheduled_for, services.program.tz, now),
            "link": invite_url(services, handoff),
        },
    )


def _reminder_timer(services: Services, session: Session, job: OutboxJob, now: dt.datetime) -> None:
    handoff = session.get(Handoff, int(job.payload["handoff_id"]))
    if handoff is None or handoff.status != "accepted" or handoff.scheduled_for is None:
        return
    if handoff.scheduled_for.isoformat() != job.payload.get("at"):
        return  # rescheduled since
    responder = session.get(Responder, handoff.responder_id or 0)
    if responder is None:
        return
    translator = services.catalogs.translator(handoff.language)
    zone = person_zone(services, session, handoff)
    _person_text(
        services,
        session,
        handoff,
        texts.REMIND_PERSON,
        {
            "coach": responder.display_name,
            "when": translator.day_and_time(handoff.scheduled_for, zone, now),
        },
        now,
    )
    r_translator = responder_translator(services, responder)
    tell_responder(
        services,
        session,
        responder,
        texts.REMIND_RESPONDER,
        now,
        params={
            "code": handoff.code,
            "when": r_translator.day_and_time(handoff.scheduled_for, services.program.tz, now),
        },
    )


register_timer(TIMER_REMINDER, _reminder_timer)


def is_word(text: str, word: str, services: Services, language: str) -> bool:
    said = fold(text)
    return said in {fold(word), fold(services.catalogs.translator(language).gettext(word))}


def person_changes_booking(
    services: Services, session: Session, handoff: Handoff, text: str, now: dt.datetime
) -> bool:
    """RESCHEDULE or CANCEL TIME from the person; returns whether the text was one of them."""
    if handoff.scheduled_for is None:
        return False
    if is_word(text, texts.RESCHEDULE_WORD, services, handoff.language):
        record(session, "booking_rescheduled", now, handoff_id=handoff.id)
        offer_booking(services, session, handoff, now, lead=texts.BOOK_PICK)
        return True
    if is_word(text, texts.CANCEL_TIME_WORD, services, handoff.language):
        responder = session.get(Responder, handoff.responder_id or 0)
        when = handoff.scheduled_for
        handoff.status = "cancelled"
        handoff.closed_at = now
        conversation = person_conversation(session, handoff)
        if conversation is not None:
            conversation.status = "ended"
        record(session, "handoff_cancelled", now, handoff_id=handoff.id, by="person")
        _person_text(services, session, handoff, texts.BOOKING_CANCELLED_PERSON, {}, now)
        if responder is not None:
            r_translator = responder_translator(services, responder)
            tell_responder(
                services,
                session,
                responder,
                texts.BOOKING_CANCELLED_RESPONDER,
                now,
                params={
                    "code": handoff.code,
                    "when": r_translator.day_and_time(when, services.program.tz, now),
                },
            )
        return True
    return False


# --- calendar invites ----------------------------------------------------------------------


def invite_signature(services: Services, code: str, at: dt.datetime) -> str:
    key = (services.settings.secret_key or services.settings.index_key or "").encode()
    return hmac.new(key, f"{code}|{at.isoformat()}".encode(), hashlib.sha256).hexdigest()[:32]


def invite_url(services: Services, handoff: Handoff) -> str:
    assert handoff.scheduled_for is not None
    sig = invite_signature(services, handoff.code, handoff.scheduled_for)
    return f"{services.settings.public_url}/handoffs/{handoff.code}/invite.ics?sig={sig}"

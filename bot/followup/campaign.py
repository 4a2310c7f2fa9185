"""The cadence: when each step is due, the timer that sends it, and the rules that skip or stop."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.config import Program
from bot.dialogue.effects import Say
from bot.events import record
from bot.followup.stops import job_prefix, stop
from bot.followup.texts import step_text
from bot.identities import lock_contact
from bot.messaging import add_job, insert_message, job_exists
from bot.models import (
    ChannelIdentity,
    Contact,
    Conversation,
    FollowupEnrolment,
    Handoff,
    OutboxJob,
)
from bot.outbox import register_timer
from bot.outbox.policy import next_allowed, recipient_zones
from bot.render import program_params, render
from bot.services import Services

TIMER = "followup.step"
FOLLOWUP = "followup"
#: Two texts closer than this (a late enrolment right before day 3) are one too many.
MIN_GAP = dt.timedelta(hours=12)
#: A conversation the person is in the middle of is not interrupted by a check-in.
BUSY_WITHIN = dt.timedelta(hours=12)
OPEN_HANDOFF = ("requested", "offered", "accepted", "connected")


def zones_for(enrolment: FollowupEnrolment, address: str, program: Program) -> tuple[ZoneInfo, ...]:
    """The person's time zone: the one staff gave, else the area code's, else the program's.

    (The worker also holds scheduled texts to the area code's window: a number from another
    state only ever narrows the window, never widens it.)"""
    if enrolment.time_zone:
        return (ZoneInfo(enrolment.time_zone),)
    return recipient_zones(address, program.tz)


def planned_at(
    program: Program,
    event_at: dt.datetime,
    index: int,
    zones: tuple[ZoneInfo, ...],
    not_before: dt.datetime,
) -> dt.datetime:
    """When step `index` goes: day 0 as soon as allowed; day N at the check-in time on the
    person's calendar (so a DST change does not move it), then into the allowed window."""
    day = program.followup.cadence_days[index]
    if day == 0:
        moment = event_at
    else:
        local_day = event_at.astimezone(zones[0]).date() + dt.timedelta(days=day)
        moment = dt.datetime.combine(
            local_day, program.followup.checkin_time, tzinfo=zones[0]
        ).astimezone(dt.UTC)
    return next_allowed(max(moment, not_before), zones, program.quiet_hours)


def schedule_next(
    services: Services,
    session: Session,
    enrolment: FollowupEnrolment,
    identity: ChannelIdentity,
    first: int,
    now: dt.datetime,
) -> None:
    """Set a timer for the first step from `first` that is not too close to the last text;
    steps already too late are recorded as skipped. After the last step the campaign ends."""
    program = services.program
    cadence = program.followup.cadence_days
    zones = zones_for(enrolment, identity.address, program)
    earliest = now if enrolment.last_sent_at is None else enrolment.last_sent_at + MIN_GAP
    for index in range(first, len(cadence)):
        due = planned_at(program, enrolment.event_at, index, zones, now)
        if index > 0 and due < earliest:
            if index < len(cadence) - 1:
                _skipped(session, enrolment, index, "too_close", now)
                continue
            due = planned_at(program, enrolment.event_at, index, zones, earliest)
        enrolment.next_step = index
        enrolment.next_due_at = due
        enrolment.updated_at = now
        add_job(
            session,
            kind="timer",
            idempotency_key=f"{job_prefix(enrolment.id)}{index}:timer",
            due_at=due,
            payload={"timer": TIMER, "enrolment_id": enrolment.id, "step": index},
            created_at=now,
        )
        return
    enrolment.status = "completed"
    enrolment.next_step = None
    enrolment.next_due_at = None
    enrolment.updated_at = now
    record(
        session,
        "followup_completed",
        now,
        contact_id=enrolment.contact_id,
        enrolment_id=enrolment.id,
        team=enrolment.team,
    )


def run_step(services: Services, session: Session, job: OutboxJob, now: dt.datetime) -> None:
    """The timer: stop, skip or queue this step (as a scheduled send), then plan the next."""
    enrolment = session.get(FollowupEnrolment, int(job.payload["enrolment_id"]))
    if enrolment is None:
        return
    lock_contact(session, enrolment.contact_id)
    session.refresh(enrolment)
    index = int(job.payload["step"])
    if enrolment.status != "active" or enrolment.next_step != index:
        return  # stopped meanwhile, or a stale timer
    identity = session.get(ChannelIdentity, enrolment.identity_id)
    assert identity is not None
    session.refresh(identity)
    reason = stop_reason(session, enrolment, identity)
    if reason is not None:
        stop(session, enrolment, reason, now)
        return
    busy = busy_reason(session, enrolment, now)
    if busy is not None:
        _skipped(session, enrolment, index, busy, now)
    else:
        queue_step(services, session, enrolment, identity, index, now)
    schedule_next(services, session, enrolment, identity, index + 1, now)


def stop_reason(
    session: Session, enrolment: FollowupEnrolment, identity: ChannelIdentity
) -> str | None:
    """Why no more steps may go (the outbox refuses these sends too; this ends the campaign)."""
    if identity.opted_out:
        return "opt_out"
    if identity.unreachable:
        return "unreachable"
    contact = session.get(Contact, enrolment.contact_id)
    if contact is not None and contact.erased_at is not None:
        return "erased"
    completed = session.scalar(
        select(Handoff.id)
        .where(
            Handoff.contact_id == enrolment.contact_id,
            Handoff.status == "completed",
            Handoff.created_at >= enrolment.created_at,
        )
        .limit(1)
    )
    return "handoff_completed" if completed is not None else None


def busy_reason(session: Session, enrolment: FollowupEnrolment, now: dt.datetime) -> str | None:
    """Why this one step should not go now, though later ones may."""
    open_handoff = session.scalar(
        select(Handoff.id)
        .where(Handoff.contact_id == enrolment.contact_id, Handoff.status.in_(OPEN_HANDOFF))
        .limit(1)
    )
    if open_handoff is not None:
        return "handoff_open"  # a coach is already on it
    talking = session.scalar(
        select(Conversation.id)
        .where(
            Conversation.contact_id == enrolment.contact_id,
            Conversation.status.in_(("active", "relay")),
            Conversation.updated_at > now - BUSY_WITHIN,
        )
        .limit(1)
    )
    return "in_conversation" if talking is not None else None


def queue_step(
    services: Services,
    session: Session,
    enrolment: FollowupEnrolment,
    identity: ChannelIdentity,
    index: int,
    now: dt.datetime,
) -> None:
    """Store the text and a scheduled send (quiet hours apply) keyed `followup:<id>:<step>`."""
    key = f"{job_prefix(enrolment.id)}{index}"
    if job_exists(session, key):
        return
    program = services.program
    contact = session.get(Contact, enrolment.contact_id)
    # The person may have picked another language in a conversation since enrolment.
    language = enrolment.language
    if contact is not None and contact.language in program.languages:
        language = str(contact.language)
    translator = services.catalogs.translator(language)
    named = bool(enrolment.display_name)
    count = len(program.followup.cadence_days)
    say = Say(
        step_text(index, count, named=named),
        params={"name": enrolment.display_name or ""},
    )
    outbound = render(
        say,
        translator=translator,
        program_values=program_params(program, translator),
        channel=identity.channel,
        address=identity.address,
    )
    message_id = insert_message(
        session,
        {
            "identity_id": identity.id,
            "direction": "out",
            "channel": identity.channel,
            "body": outbound.text,
            "status": "queued",
            "created_at": now,
        },
    )
    add_job(
        session,
        kind="send",
        idempotency_key=key,
        due_at=now,
        scheduled=True,
        identity_id=identity.id,
        message_id=message_id,
        payload={"reply": False, "followup": enrolment.id, "step": index},
        created_at=now,
    )
    enrolment.last_step = index
    enrolment.last_sent_at = now
    enrolment.updated_at = now
    record(
        session,
        "followup_step_sent",
        now,
        contact_id=enrolment.contact_id,
        enrolment_id=enrolment.id,
        team=enrolment.team,
        step=index,
        day=program.followup.cadence_days[index],
        language=language,
        channel=identity.channel,
    )


def _skipped(
    session: Session, enrolment: FollowupEnrolment, index: int, reason: str, now: dt.datetime
) -> None:
    record(
        session,
        "followup_step_skipped",
        now,
        contact_id=enrolment.contact_id,
        enrolment_id=enrolment.id,
        team=enrolment.team,
        step=index,
        reason=reason,
    )


register_timer(TIMER, run_step)

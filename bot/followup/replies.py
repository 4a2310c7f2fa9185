"""A message from an enrolled person: when it answers a check-in, and what the answer stops."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.dialogue.runtime import DialogueState
from bot.dialogue.spec import DialogueSpec
from bot.events import record
from bot.followup.stops import STOPPABLE, stop
from bot.models import Conversation, FollowupEnrolment

FOLLOWUP = "followup"
#: A message this long after the last check-in is a new conversation, not an answer to it.
REPLY_WINDOW = dt.timedelta(days=45)
#: Steps of the follow-up flow that ask for a coach: no more check-ins after them.
COACH_STEPS = frozenset({"coach_now", "coach_scheduled"})
#: Answers to the check-in that end the cadence at once ("keep checking in" does not; a coach
#: stops it when the handoff is asked for, so an unfinished booking still gets check-ins).
STOPPING_CHOICES = {"info": "information"}


@dataclass(frozen=True)
class FollowupReply:
    """The check-in a message answers: what the new conversation is attributed to."""

    enrolment_id: int
    pathway: str
    team: str
    step: int | None
    sent_at: dt.datetime


def _replied_to(session: Session, contact_id: int, now: dt.datetime) -> FollowupEnrolment | None:
    return session.scalar(
        select(FollowupEnrolment)
        .where(
            FollowupEnrolment.contact_id == contact_id,
            FollowupEnrolment.status.in_(STOPPABLE),
            FollowupEnrolment.last_sent_at.is_not(None),
            FollowupEnrolment.last_sent_at > now - REPLY_WINDOW,
        )
        .order_by(FollowupEnrolment.last_sent_at.desc())
        .limit(1)
    )


def followup_reply(
    session: Session, contact_id: int, conversation: Conversation | None, now: dt.datetime
) -> FollowupReply | None:
    """Whether this message answers a check-in: one went out and no conversation has carried
    on since (or the last follow-up conversation ended with "keep checking in")."""
    enrolment = _replied_to(session, contact_id, now)
    if enrolment is None or enrolment.last_sent_at is None:
        return None
    if conversation is not None and conversation.status in ("relay", "booking"):
        return None  # a responder is talking with the person: their messages go there
    answers = (
        conversation is None
        or conversation.updated_at < enrolment.last_sent_at
        or (conversation.dialogue_id == FOLLOWUP and conversation.status == "ended")
    )
    if not answers:
        return None
    return FollowupReply(
        enrolment_id=enrolment.id,
        pathway=enrolment.pathway,
        team=enrolment.team,
        step=enrolment.last_step,
        sent_at=enrolment.last_sent_at,
    )


def answering_state(spec: DialogueSpec) -> DialogueState:
    """The check-in text already asked the flow's first question: the message answers it."""
    return DialogueState(dialogue_id=spec.id, step=spec.start, status="active")


def followup_started(
    session: Session, reply: FollowupReply, conversation: Conversation, now: dt.datetime
) -> None:
    """Note the reply (reply rate, time to first reply) on the conversation it started."""
    record(
        session,
        "followup_replied",
        now,
        contact_id=conversation.contact_id,
        conversation_id=conversation.id,
        enrolment_id=reply.enrolment_id,
        team=reply.team,
        step=reply.step,
        seconds_after_step=int((now - reply.sent_at).total_seconds()),
    )


def after_followup_turn(session: Session, conversation: Conversation, now: dt.datetime) -> None:
    """Asking for a coach or for information ends the check-ins; "keep checking in" does not."""
    if conversation.dialogue_id != FOLLOWUP:
        return
    slots = json.loads(conversation.slots or "{}")
    reason = (
        "coach_requested"
        if conversation.step in COACH_STEPS
        else STOPPING_CHOICES.get(str(slots.get("followup_choice", "")))
    )
    if reason is None:
        return
    enrolment = _replied_to(session, conversation.contact_id, now)
    if enrolment is not None:
        stop(session, enrolment, reason, now)

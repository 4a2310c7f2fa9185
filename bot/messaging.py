"""Store an outbound message and queue it for the worker, in the caller's transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from bot.models import ChannelIdentity, Message, OutboxJob
from connectors.base import OutboundChoice, OutboundMessage

_QUEUED = "doorway.outbox_queued"


@event.listens_for(Session, "before_flush")
def _note_queued_jobs(session: Session, _context: object, _instances: object) -> None:
    if any(isinstance(obj, OutboxJob) for obj in session.new):
        session.info[_QUEUED] = True


def jobs_queued(session: Session) -> bool:
    """Whether this session has written an outbox job (so the worker can be woken)."""
    return bool(session.info.get(_QUEUED, False))


def message_meta(outbound: OutboundMessage) -> dict[str, Any] | None:
    """What besides the body is needed to send a message again (never personal data)."""
    if not (outbound.choices or outbound.hint or outbound.step):
        return None
    return {
        "choices": [[c.number, c.value, c.label] for c in outbound.choices],
        "hint": outbound.hint,
        "skip": outbound.skip_label,
        "step": outbound.step,
        "rtl": outbound.right_to_left,
    }


def queue_outbound(
    session: Session,
    identity: ChannelIdentity,
    outbound: OutboundMessage,
    now: dt.datetime,
    *,
    conversation_id: int | None = None,
    reply_to_id: int | None = None,
    inline: bool = False,
    force: bool = False,
    scheduled: bool = False,
    due_at: dt.datetime | None = None,
    key: str | None = None,
    segments: int | None = None,
) -> Message:
    """The message is on disk before it leaves: inline replies are stored as sent (they ride
    in the response), everything else gets an outbox job in the same commit.

    An inline reply is not flushed here: the caller's next flush or commit writes it (with
    the rest of the turn), and its id exists from then on.
    """
    message = Message(
        conversation_id=conversation_id,
        identity_id=identity.id,
        direction="out",
        channel=identity.channel,
        reply_to_id=reply_to_id,
        body=outbound.text,
        meta=message_meta(outbound),
        status="sent" if inline else "queued",
        segments=segments,
        created_at=now,
    )
    session.add(message)
    if not inline:
        session.flush()  # the job refers to the message by id
        session.add(
            OutboxJob(
                kind="send",
                idempotency_key=key or f"msg:{message.id}",
                due_at=due_at or now,
                scheduled=scheduled,
                identity_id=identity.id,
                message_id=message.id,
                payload={"reply": reply_to_id is not None, "force": force},
                created_at=now,
            )
        )
    return message


def outbound_from_stored(message: Message, address: str) -> OutboundMessage:
    """Rebuild what was sent from a stored message (for retries and chat history)."""
    meta = message.meta or {}
    return OutboundMessage(
        channel=message.channel,
        address=address,
        text=message.body or "",
        choices=tuple(
            OutboundChoice(int(n), str(v), str(label)) for n, v, label in meta.get("choices", [])
        ),
        hint=meta.get("hint"),
        skip_label=meta.get("skip"),
        step=meta.get("step"),
        message_id=message.id,
        conversation_id=message.conversation_id,
        right_to_left=bool(meta.get("rtl", False)),
    )


def stored_replies(
    session: Session, inbound: Message, address: str
) -> list[tuple[OutboundMessage, Message]]:
    """The replies to a stored message, for replaying a provider's retry of it."""
    replies = session.scalars(
        select(Message).where(Message.reply_to_id == inbound.id).order_by(Message.id)
    ).all()
    return [(outbound_from_stored(m, address), m) for m in replies]

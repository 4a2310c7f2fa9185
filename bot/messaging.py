"""Store an outbound message and queue it for the worker, in the caller's transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from bot.models import ChannelIdentity, Message, OutboxJob
from bot.prepared import fetch_one, insert_row, update_by_id
from connectors.base import OutboundChoice, OutboundMessage

_QUEUED = "doorway.outbox_queued"


def _note_queued(session: Session, kind: str) -> None:
    session.info[_QUEUED] = session.info.get(_QUEUED, frozenset()) | {kind}


def add_job(
    session: Session,
    *,
    kind: str,
    idempotency_key: str,
    due_at: dt.datetime,
    created_at: dt.datetime,
    payload: dict[str, Any],
    identity_id: int | None = None,
    message_id: int | None = None,
    scheduled: bool = False,
) -> int:
    """Queue an outbox job as a plain INSERT in the caller's transaction (see `bot.prepared`);
    returns its id. Every job is queued here: the session notes its kind, so the worker can
    be woken for it once the transaction commits (`jobs_queued`)."""
    job_id = insert_row(
        session,
        OutboxJob,
        {
            "kind": kind,
            "status": "pending",
            "idempotency_key": idempotency_key,
            "due_at": due_at,
            "scheduled": scheduled,
            "attempts": 0,
            "identity_id": identity_id,
            "message_id": message_id,
            "payload": payload,
            "created_at": created_at,
        },
    )
    _note_queued(session, kind)
    return job_id


#: Built once: each queued follow-up, routing timer and late reply asks it first.
_JOB_WITH_KEY = select(OutboxJob.id).where(OutboxJob.idempotency_key == bindparam("key"))


def job_exists(session: Session, idempotency_key: str) -> bool:
    """Whether an outbox job with this key was ever queued (keys are unique)."""
    return fetch_one(session, _JOB_WITH_KEY, {"key": idempotency_key}) is not None


def jobs_queued(session: Session) -> frozenset[str]:
    """The kinds of outbox job this session has written (so the worker can be woken)."""
    return frozenset(session.info.get(_QUEUED, frozenset()))


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
    force: bool = False,
    scheduled: bool = False,
    due_at: dt.datetime | None = None,
    key: str | None = None,
) -> int:
    """The message is on disk before it leaves: it gets an outbox job in the same commit.
    Returns the message's id. Both rows are plain INSERTs: this is the path of every reply
    on a channel that does not answer inline (Telegram), and of every alert."""
    message_id = insert_message(
        session,
        _outbound_row(identity, outbound, now, conversation_id, reply_to_id, "queued", None),
    )
    add_job(
        session,
        kind="send",
        idempotency_key=key or f"msg:{message_id}",
        due_at=due_at or now,
        scheduled=scheduled,
        identity_id=identity.id,
        message_id=message_id,
        payload={"reply": reply_to_id is not None, "force": force},
        created_at=now,
    )
    return message_id


def store_inline_reply(
    session: Session,
    identity: ChannelIdentity,
    outbound: OutboundMessage,
    now: dt.datetime,
    *,
    conversation_id: int | None,
    reply_to_id: int,
    segments: int | None,
) -> int:
    """A reply that rides in the channel's response, stored as sent; returns its id."""
    return insert_message(
        session,
        _outbound_row(identity, outbound, now, conversation_id, reply_to_id, "sent", segments),
    )


def _outbound_row(
    identity: ChannelIdentity,
    outbound: OutboundMessage,
    now: dt.datetime,
    conversation_id: int | None,
    reply_to_id: int | None,
    status: str,
    segments: int | None,
) -> dict[str, Any]:
    """An outbound message's row; queued and inline replies give the same columns, so they
    share one prepared statement."""
    return {
        "conversation_id": conversation_id,
        "identity_id": identity.id,
        "direction": "out",
        "channel": identity.channel,
        "reply_to_id": reply_to_id,
        "body": outbound.text,
        "meta": message_meta(outbound),
        "status": status,
        "segments": segments,
        "created_at": now,
    }


def insert_message(session: Session, row: dict[str, Any]) -> int:
    """Store a message row at once, as a plain INSERT in the caller's transaction; returns its
    id. On the path of every inbound message the ORM's unit of work cost twice the insert,
    and Core's execution as much again as the statement (see `bot.prepared`)."""
    return insert_row(session, Message, row)


def set_conversation(session: Session, message_id: int, conversation_id: int) -> None:
    """File a stored message under the conversation it started."""
    update_by_id(session, Message, message_id, {"conversation_id": conversation_id})


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

"""Write where a conversation stands after a turn: one plain UPDATE.

Almost every inbound message moves its conversation on (step, answers, misses, status). Made
through the ORM's unit of work that UPDATE cost several times the statement itself; here it
is executed directly and the object is told the values are stored, so the session's own
flush has nothing left to write for them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from bot.models import Conversation
from bot.prepared import update_by_id


def save_progress(
    session: Session,
    conversation: Conversation,
    *,
    step: str,
    slots: str,
    misses: int,
    status: str,
    now: dt.datetime,
) -> None:
    """Store the conversation's step, answers (encrypted by the column type), misses and
    status, in the caller's transaction; the loaded object reads the same afterwards.

    The status is written only when it changes: it is in an index, and a database rewrites
    an index's entry for any column an UPDATE sets, changed or not (on SQLite one more page
    written at every message's commit)."""
    values: dict[str, object] = {"step": step, "slots": slots, "misses": misses}
    if status != conversation.status:
        values["status"] = status
    values["updated_at"] = now
    update_by_id(session, Conversation, conversation.id, values)
    for key, value in values.items():
        set_committed_value(conversation, key, value)

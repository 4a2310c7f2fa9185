"""A stored conversation for tests that need one without running the dialogue."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from bot.models import ChannelIdentity, Conversation


def add_conversation(
    session: Session, identity: ChannelIdentity, status: str, at: dt.datetime
) -> Conversation:
    """An intake conversation at its first step, started and last updated at `at` (flushed)."""
    conversation = Conversation(
        contact_id=identity.contact_id,
        identity_id=identity.id,
        dialogue_id="intake",
        step="welcome",
        slots="{}",
        language="en",
        pathway="self",
        status=status,
        started_at=at,
        updated_at=at,
    )
    session.add(conversation)
    session.flush()
    return conversation

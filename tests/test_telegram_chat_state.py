"""What a Telegram update is first checked against: is the chat a linked responder's (and in
which language do they read), and did the chat's person opt out."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.db import transaction
from bot.identities import find_or_create_identity
from bot.models import Responder
from bot.services import Services
from connectors.telegram_chats import ChatState, chat_state

CHAT = "4242001"
OTHER_CHAT = "4242002"
NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)

#: (the chat's person: None, "in" or "out"; a responder linked to: None, CHAT or OTHER_CHAT,
#: with these languages), what the chat's state says.
CASES = [
    (None, None, [], ChatState(None, None, opted_out=False)),
    ("in", None, [], ChatState(None, None, opted_out=False)),
    ("out", None, [], ChatState(None, None, opted_out=True)),
    (None, CHAT, ["es", "en"], ChatState(1, "es", opted_out=False)),
    (None, CHAT, [], ChatState(1, None, opted_out=False)),
    ("out", CHAT, ["en"], ChatState(1, "en", opted_out=True)),
    (None, OTHER_CHAT, ["en"], ChatState(None, None, opted_out=False)),
    ("in", OTHER_CHAT, ["en"], ChatState(None, None, opted_out=False)),
]


@pytest.mark.parametrize(("person", "linked_to", "languages", "expected"), CASES)
def test_a_chats_state(
    services: Services,
    person: str | None,
    linked_to: str | None,
    languages: list[str],
    expected: ChatState,
) -> None:
    responder_id = None
    with transaction(services.sessions) as session:
        if person is not None:
            identity = find_or_create_identity(session, services.vault, "telegram", CHAT, NOW)
            identity.opted_out = person == "out"
        if linked_to is not None:
            responder = Responder(
                name="Maya Coach",
                display_name="Maya",
                role="peer_recovery_coach",
                languages=languages,
                telegram_chat=linked_to,
                telegram_index=services.vault.blind_index("telegram", linked_to),
            )
            session.add(responder)
            session.flush()
            responder_id = responder.id
    state = chat_state(services, CHAT)
    if expected.responder_id is not None:
        expected = ChatState(responder_id, expected.responder_language, expected.opted_out)
    assert state == expected

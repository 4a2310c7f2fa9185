"""Which consent a handoff request rests on: this message's answer wins over any stored one,
a decline included; without one, the newest stored answer counts only if it grants and was
never withdrawn."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from bot.db import transaction
from bot.dialogue.effects import RequestHandoff
from bot.handoff.requests import ConsentAnswer, request_handoff
from bot.identities import find_or_create_identity
from bot.models import Consent, Conversation, Handoff
from bot.services import Services
from tests.conversation_support import add_conversation

NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)

#: (stored answers, oldest first: granted, withdrawn), the answer given now, what the request
#: rests on: "stored" is the newest stored answer, "now" this message's, None no consent.
CASES = [
    ([], None, None),
    ([], True, "now"),
    ([], False, None),
    ([(True, False)], None, "stored"),
    ([(True, True)], None, None),
    ([(False, False)], None, None),
    ([(True, False), (False, False)], None, None),
    ([(False, False), (True, False)], None, "stored"),
    ([(True, False)], False, None),
    ([(True, False)], True, "now"),
    ([(True, True)], True, "now"),
]


def _consent(session: Session, conversation: Conversation, granted: bool) -> Consent:
    consent = Consent(
        contact_id=conversation.contact_id,
        conversation_id=conversation.id,
        granted=granted,
        version="1",
        language="en",
        channel="sms",
        elements={},
        given_at=NOW,
    )
    session.add(consent)
    session.flush()
    return consent


@pytest.mark.parametrize(("stored", "given_now", "rests_on"), CASES)
def test_the_consent_a_request_rests_on(
    services: Services,
    stored: list[tuple[bool, bool]],
    given_now: bool | None,
    rests_on: str | None,
) -> None:
    with transaction(services.sessions) as session:
        identity = find_or_create_identity(session, services.vault, "sms", "+15550104477", NOW)
        conversation = add_conversation(session, identity, "active", NOW)
        newest: Consent | None = None
        for granted, withdrawn in stored:
            newest = _consent(session, conversation, granted)
            newest.withdrawn_at = NOW if withdrawn else None
        answer = None
        if given_now is not None:
            answer = ConsentAnswer(_consent(session, conversation, given_now).id, given_now)
        handoff = request_handoff(
            session,
            conversation,
            RequestHandoff("talk_to_person", "today", None, None, None, None),
            NOW,
            channel="sms",
            consent_given_now=answer,
        )
        handoff_id = handoff.id
        expected = {
            None: None,
            "now": answer.consent_id if answer else None,
            "stored": newest.id if newest else None,
        }[rests_on]
    with services.sessions() as session:
        stored_handoff = session.get(Handoff, handoff_id)
        assert stored_handoff is not None
        assert stored_handoff.consent_id == expected
        assert (expected is not None) is (rests_on is not None)

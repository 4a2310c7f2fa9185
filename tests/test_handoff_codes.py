"""Handoff codes stay short while they can and never repeat, even when the space is crowded."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.orm import Session

from bot.db import transaction
from bot.handoff.requests import new_code
from bot.models import Contact, Handoff
from bot.services import Services

NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)


def _always_a(_alphabet: str) -> str:
    """A worst-case chooser: every draw collides with the last code given."""
    return "A"


def _give(session: Session, code: str) -> None:
    contact = Contact(created_at=NOW)
    session.add(contact)
    session.flush()
    session.add(
        Handoff(
            code=code,
            contact_id=contact.id,
            kind="talk",
            urgency="today",
            pathway="self",
            language="en",
            channel="sms",
            created_at=NOW,
        )
    )
    session.flush()


def test_a_crowded_code_space_gives_longer_codes_then_stops_with_a_clear_error(
    sqlite_services: Services,
) -> None:
    with transaction(sqlite_services.sessions) as session:
        given = []
        for _ in range(3):
            code = new_code(session, choose=_always_a)
            _give(session, code)
            given.append(code)
        assert given == ["AAAA", "AAAAA", "AAAAAA"]
        with pytest.raises(RuntimeError, match="exhausted"):
            new_code(session, choose=_always_a)


def test_codes_are_four_characters_from_the_unambiguous_alphabet(
    sqlite_services: Services,
) -> None:
    with transaction(sqlite_services.sessions) as session:
        codes = {new_code(session) for _ in range(200)}
    assert all(len(code) == 4 for code in codes)
    assert not any(set(code) & set("01OI") for code in codes)

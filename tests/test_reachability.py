"""An address marked unreachable comes back when the person writes from it; a carrier
opt-out (Twilio 21610) only when they send START."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from bot.conversations import receive
from bot.db import transaction
from bot.identities import find_or_create_identity
from bot.models import ChannelIdentity, Event
from bot.services import Services
from connectors.base import InboundMessage

PERSON = "+15550107788"
_sids = itertools.count()


def _write(services: Services, text: str) -> None:
    inbound = InboundMessage(
        channel="sms",
        address=PERSON,
        text=text,
        provider_id=f"SM{next(_sids):032x}",
        received_at=services.clock(),
    )
    receive(services, inbound, reply_inline=True)


def _mark(services: Services, reason: str) -> None:
    with transaction(services.sessions) as session:
        identity = find_or_create_identity(session, services.vault, "sms", PERSON, services.clock())
        identity.unreachable = True
        identity.unreachable_reason = reason


def _unreachable(services: Services) -> bool:
    with transaction(services.sessions) as session:
        return bool(session.scalar(select(ChannelIdentity.unreachable)))


@pytest.mark.parametrize(
    ("reason", "messages", "unreachable_after"),
    [
        ("30003 handset unreachable", ["hi"], False),
        ("30005 unknown number", ["hi"], False),
        ("21610 opted out at the carrier", ["hi"], True),
        ("21610 opted out at the carrier", ["hi", "START"], False),
    ],
)
def test_a_message_from_the_address_lifts_the_flag(
    sqlite_services: Services, reason: str, messages: list[str], unreachable_after: bool
) -> None:
    _mark(sqlite_services, reason)
    for text in messages:
        _write(sqlite_services, text)
    assert _unreachable(sqlite_services) is unreachable_after
    with transaction(sqlite_services.sessions) as session:
        lifted = session.scalars(select(Event).where(Event.kind == "reachable_again")).all()
    assert len(lifted) == (0 if unreachable_after else 1)

"""`contacts erase`: the number is no longer findable, a new message starts anew, events stay."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from bot.conversations import receive
from bot.erase import TOMBSTONE, erase_contact
from bot.identities import find_identity
from bot.models import ChannelIdentity, Contact, Conversation, Event, Handoff, Message
from bot.services import Services
from tests.conftest import FakeClock
from tests.privacy_support import PHONE, full_conversation, inbound


def contact_id_of(services: Services, address: str = PHONE) -> int:
    with services.sessions() as session:
        identity = find_identity(session, services.vault, "sms", address)
        assert identity is not None
        return identity.contact_id


def test_erase_removes_personal_data_and_keeps_events(services: Services, clock: FakeClock) -> None:
    full_conversation(services)
    contact_id = contact_id_of(services)
    with services.sessions() as session:
        events_before = int(session.scalar(select(func.count(Event.id))) or 0)

    report = erase_contact(services, contact_id, clock.now)
    assert not report.already_erased
    assert report.identities == 1 and report.messages > 0 and report.handoffs == 1

    with services.sessions() as session:
        assert find_identity(session, services.vault, "sms", PHONE) is None
        identity = session.scalars(select(ChannelIdentity)).one()
        assert identity.address == TOMBSTONE
        assert identity.address_index != services.vault.blind_index("sms", PHONE)
        messages = session.scalars(select(Message)).all()
        assert all(m.body is None and m.provider_id is None for m in messages)
        conversation = session.scalars(select(Conversation)).one()
        assert conversation.slots is None and conversation.status == "closed"
        handoff = session.scalars(select(Handoff)).one()
        assert handoff.display_name is None and handoff.outcome == "contact_erased"
        contact = session.get(Contact, contact_id)
        assert contact is not None and contact.erased_at == clock.now
        kinds = [e.kind for e in session.scalars(select(Event).order_by(Event.id))]
    assert len(kinds) == events_before + 2  # handoff_closed, contact_erased; nothing removed
    assert kinds[-1] == "contact_erased"


def test_a_new_message_from_the_same_number_starts_a_new_contact(
    services: Services, clock: FakeClock
) -> None:
    full_conversation(services)
    old_id = contact_id_of(services)
    erase_contact(services, old_id, clock.now)

    clock.advance(minutes=5)
    result = receive(services, inbound("hello", "SM-after"), reply_inline=True)
    assert result.replies[0].text.startswith("Hi, this is")  # a fresh welcome
    new_id = contact_id_of(services)
    assert new_id != old_id
    with services.sessions() as session:
        conversation = session.scalars(
            select(Conversation).where(Conversation.contact_id == new_id)
        ).one()
        assert json.loads(conversation.slots or "{}") == {}


def test_erase_is_idempotent(services: Services, clock: FakeClock) -> None:
    full_conversation(services)
    contact_id = contact_id_of(services)
    erase_contact(services, contact_id, clock.now)
    again = erase_contact(services, contact_id, clock.now)
    assert again.already_erased
    assert (again.messages, again.conversations, again.handoffs) == (0, 0, 0)
    with services.sessions() as session:
        erased = session.scalars(select(Event).where(Event.kind == "contact_erased")).all()
    assert len(erased) == 1
    assert "erased" in "\n".join(again.lines())

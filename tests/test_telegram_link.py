"""Coach side: one-time link codes (hashed, 15 minutes, once) and linked chats that never get
the person intake."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sqlalchemy import func, select

from bot.db import transaction
from bot.handoff.texts import NO_OPEN
from bot.models import ChannelIdentity, Contact, Conversation, LinkCode, Responder
from bot.responder_links import create_link_code, linked_responder, redeem_link_code
from bot.services import Services
from connectors.base import OutboundMessage
from connectors.telegram_callbacks import sign_command
from connectors.telegram_coach import CoachMessage
from connectors.telegram_texts import MSG_LINK_FAILED, MSG_LINKED
from tests.conftest import FakeClock
from tests.fakes.telegram_harness import CHAT, Harness, fixture, text_update

COACH = "Maya Coach"


def add_coach(services: Services, name: str = COACH) -> int:
    with transaction(services.sessions) as session:
        responder = Responder(
            name=name, display_name=name.split()[0], role="peer_recovery_coach", languages=["en"]
        )
        session.add(responder)
        session.flush()
        return responder.id


def new_code(services: Services, name: str = COACH) -> str:
    with transaction(services.sessions) as session:
        return create_link_code(session, services.vault, name, services.clock())


def redeem(services: Services, code: str, address: str = str(CHAT)) -> Responder | None:
    with transaction(services.sessions) as session:
        return redeem_link_code(
            session,
            services.vault,
            code,
            channel="telegram",
            address=address,
            now=services.clock(),
        )


# --- the link-code service, on SQLite and PostgreSQL -------------------------------------------


def test_a_code_links_once_and_is_stored_hashed(services: Services) -> None:
    coach_id = add_coach(services)
    code = new_code(services)
    with services.sessions() as session:
        stored = session.scalars(select(LinkCode)).one()
        assert code.replace("-", "") not in stored.code_hash
    linked = redeem(services, code.lower())  # typed in any case, with or without the dash
    assert linked is not None and linked.id == coach_id
    assert redeem(services, code, address="5550009") is None  # works once
    with services.sessions() as session:
        coach = session.get(Responder, coach_id)
        assert coach is not None and coach.telegram_chat == str(CHAT)
        assert coach.telegram_index == services.vault.blind_index("telegram", str(CHAT))
        found = linked_responder(session, services.vault, channel="telegram", address=str(CHAT))
        assert found is not None and found.id == coach_id


def test_a_code_expires_after_15_minutes(services: Services, clock: FakeClock) -> None:
    add_coach(services)
    code = new_code(services)
    clock.advance(minutes=15)
    assert redeem(services, code) is None
    fresh = new_code(services)
    clock.advance(minutes=14, seconds=59)
    assert redeem(services, fresh) is not None


def test_a_new_code_cancels_the_old_one(services: Services) -> None:
    add_coach(services)
    old = new_code(services)
    new = new_code(services)
    assert redeem(services, old) is None
    assert redeem(services, new) is not None


def test_relinking_a_chat_moves_it(services: Services) -> None:
    first = add_coach(services, "Coach One")
    second = add_coach(services, "Coach Two")
    assert redeem(services, new_code(services, "Coach One")) is not None
    assert redeem(services, new_code(services, "Coach Two")) is not None
    with services.sessions() as session:
        assert session.get(Responder, first).telegram_chat is None  # type: ignore[union-attr]
        assert session.get(Responder, second).telegram_chat == str(CHAT)  # type: ignore[union-attr]


@pytest.mark.parametrize("code", ["", "x", "NOT-A-REAL-CODE", "A" * 200])
def test_wrong_codes_link_nothing(services: Services, code: str) -> None:
    add_coach(services)
    new_code(services)
    assert redeem(services, code) is None


def test_unknown_responder(services: Services) -> None:
    with pytest.raises(LookupError), transaction(services.sessions) as session:
        create_link_code(session, services.vault, "Nobody", services.clock())


# --- through the bot ---------------------------------------------------------------------------


def person_side_rows(services: Services) -> tuple[int, int]:
    with services.sessions() as session:
        identities = session.scalar(select(func.count()).select_from(ChannelIdentity))
        conversations = session.scalar(select(func.count()).select_from(Conversation))
    return int(identities or 0), int(conversations or 0)


async def test_link_then_no_intake(tg: Harness) -> None:
    add_coach(tg.services)
    code = new_code(tg.services)
    assert (await tg.post(text_update(1, f"/link {code}"))).status_code == 200
    assert tg.fake.sent_texts() == [MSG_LINKED]
    assert (await tg.post(text_update(2, "hi"))).status_code == 200
    assert (await tg.post(text_update(3, "/start"))).status_code == 200
    await tg.deliver()
    # A linked chat is a responder's: no intake, the handoff engine answers instead.
    assert tg.fake.sent_texts()[1:] == [NO_OPEN, NO_OPEN]
    with tg.services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Conversation)) == 0
        staff = session.scalars(select(Contact.responder_id)).all()
    assert staff and all(staff)  # the only contact is the responder's own channel


async def test_a_used_code_fails_politely(tg: Harness) -> None:
    add_coach(tg.services)
    code = new_code(tg.services)
    await tg.post(text_update(1, f"/link {code}"))
    assert (await tg.post(text_update(2, f"/link {code}", chat=5550003))).status_code == 200
    assert tg.fake.sent_texts() == [MSG_LINKED, MSG_LINK_FAILED]
    assert person_side_rows(tg.services) == (0, 0)  # /link never starts an intake


async def test_coach_handler_hook_gets_text_and_signed_taps(tg: Harness) -> None:
    seen: list[CoachMessage] = []

    def handler(services: Services, message: CoachMessage) -> Sequence[OutboundMessage]:
        seen.append(message)
        return [OutboundMessage(channel="telegram", address=message.address, text="noted")]

    tg.connector.coach_handler = handler
    coach_id = add_coach(tg.services)
    await tg.post(text_update(1, f"/link {new_code(tg.services)}"))
    await tg.post(text_update(2, "accept A K3F7"))
    tap = fixture("callback_query")
    chat = str(tap["callback_query"]["message"]["chat"]["id"])
    tap["callback_query"]["data"] = sign_command(tg.connector.signer, chat, "A K3F7")
    assert (await tg.post(tap)).status_code == 200
    forged = fixture("callback_query")
    forged["callback_query"]["id"] = "forged-1"
    forged["callback_query"]["data"] = "k:A K3F7:AAAAAAAAAAA"
    assert (await tg.post(forged)).status_code == 200
    assert [(m.responder_id, m.text) for m in seen] == [
        (coach_id, "accept A K3F7"),
        (coach_id, "A K3F7"),  # the signed button's command, as if typed
    ]
    assert tg.fake.sent_texts()[1:] == ["noted", "noted"]
    assert tg.fake.calls_to("answerCallbackQuery")[-1].params["callback_query_id"] == "forged-1"

"""Inline buttons: a tap is the same as typing the number; forged, stale and foreign taps
change nothing and get a polite note."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import func, select

from bot.conversations import receive
from bot.models import Conversation, Message
from bot.services import Services
from connectors.base import AnswerTo, InboundMessage, step_token
from connectors.telegram_callbacks import MAX_CALLBACK_BYTES
from connectors.telegram_texts import MSG_BUTTON_EXPIRED
from tests.fakes.telegram_api import Call
from tests.fakes.telegram_harness import CHAT, Harness, fixture, text_update

OTHER_CHAT = 5550002


def buttons(call: Call) -> list[tuple[str, str]]:
    markup = call.params.get("reply_markup") or {"inline_keyboard": []}
    return [(b["text"], b["callback_data"]) for row in markup["inline_keyboard"] for b in row]


def tap(
    update_id: int, query_id: str, data: str, label: str = "1. Talk with someone today"
) -> dict[str, Any]:
    update: dict[str, Any] = copy.deepcopy(fixture("callback_query"))
    update["update_id"] = update_id
    query = update["callback_query"]
    query["id"], query["data"] = query_id, data
    query["message"]["reply_markup"] = {
        "inline_keyboard": [[{"text": label, "callback_data": data}]]
    }
    return update


async def start(tg: Harness, chat: int = CHAT, update_id: int = 1) -> list[tuple[str, str]]:
    """Say hi and return the buttons of the first question."""
    assert (await tg.post(text_update(update_id, "hi", chat))).status_code == 200
    await tg.deliver()
    return buttons(tg.fake.calls_to("sendMessage")[-1])


def step_of(tg: Harness, chat_conversation: int | None = None) -> str:
    with tg.services.sessions() as session:
        conversations = session.scalars(select(Conversation).order_by(Conversation.id)).all()
        return conversations[chat_conversation or 0].step


def inbound_count(tg: Harness) -> int:
    with tg.services.sessions() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Message).where(Message.direction == "in")
            )
            or 0
        )


async def test_choices_render_as_buttons_with_skip(tg: Harness) -> None:
    shown = await start(tg)
    labels = [label for label, _ in shown]
    assert labels == [
        "1. Talk with someone today",
        "2. Set up a time to talk",
        "3. Information about treatment and support",
        "4. Just talk",
        "Skip",
    ]
    assert all(len(data.encode()) <= MAX_CALLBACK_BYTES for _, data in shown)
    question = tg.fake.calls_to("sendMessage")[-1].params["text"]
    assert question.startswith("What kind of help would you like?")
    assert "1. Talk" not in question  # the choices are buttons, not lines


async def test_a_tap_advances_like_typing_the_number(tg: Harness) -> None:
    shown = await start(tg)
    response = await tg.post(tap(2, "q-1", shown[0][1]))
    assert response.status_code == 200
    answer = tg.fake.calls_to("answerCallbackQuery")[-1].params
    assert answer == {"callback_query_id": "q-1"}
    edited = tg.fake.calls_to("editMessageText")[-1].params
    assert edited["text"].endswith("✓ 1. Talk with someone today")
    assert "reply_markup" not in edited  # the old keyboard is gone
    assert step_of(tg) == "name"
    await tg.deliver()
    name_question = tg.fake.calls_to("sendMessage")[-1]
    assert name_question.params["text"].startswith("What would you like us to call you?")
    assert [label for label, _ in buttons(name_question)] == ["Skip"]
    # free text works where buttons are offered
    assert (await tg.post(text_update(3, "Robin"))).status_code == 200
    assert step_of(tg) == "safe_now"


async def test_skip_button(tg: Harness) -> None:
    shown = await start(tg)
    await tg.post(tap(2, "q-1", shown[0][1]))
    await tg.deliver()
    skip = buttons(tg.fake.calls_to("sendMessage")[-1])[-1]
    assert (await tg.post(tap(3, "q-2", skip[1], label="Skip"))).status_code == 200
    assert step_of(tg) == "safe_now"


async def test_a_retried_tap_is_handled_once(tg: Harness) -> None:
    shown = await start(tg)
    for _ in range(2):
        assert (await tg.post(tap(2, "q-1", shown[0][1]))).status_code == 200
    assert step_of(tg) == "name"
    assert inbound_count(tg) == 2  # "hi" and one tap
    assert not any("text" in c.params for c in tg.fake.calls_to("answerCallbackQuery"))


def expired(tg: Harness) -> bool:
    answer = tg.fake.calls_to("answerCallbackQuery")[-1].params
    return answer.get("text") == MSG_BUTTON_EXPIRED and answer.get("show_alert") is True


async def test_stale_tap_changes_nothing(tg: Harness) -> None:
    shown = await start(tg)
    await tg.post(tap(2, "q-1", shown[0][1]))
    before = inbound_count(tg)
    # the same button again, a new tap: the conversation has moved on
    assert (await tg.post(tap(3, "q-2", shown[1][1]))).status_code == 200
    assert expired(tg)
    assert step_of(tg) == "name"
    assert inbound_count(tg) == before
    edited = tg.fake.calls_to("editMessageText")[-1].params["text"]
    assert edited.endswith("Talk with someone today")  # only the first tap was shown


async def test_forged_tap_changes_nothing(tg: Harness) -> None:
    await start(tg)
    assert (await tg.post(fixture("callback_forged"))).status_code == 200
    assert expired(tg)
    assert step_of(tg) == "help_kind"
    assert inbound_count(tg) == 1


async def test_tampered_choice_fails_the_signature(tg: Harness) -> None:
    shown = await start(tg)
    body, mac = shown[0][1].rsplit(":", 2)[0], shown[0][1].rsplit(":", 1)[1]
    assert (await tg.post(tap(2, "q-1", f"{body}:2:{mac}"))).status_code == 200
    assert expired(tg)
    assert step_of(tg) == "help_kind"


async def test_foreign_taps_change_nothing(tg: Harness) -> None:
    mine = await start(tg, CHAT, update_id=1)
    theirs = await start(tg, OTHER_CHAT, update_id=2)
    # their button, pressed in my chat (copied data): the signature is bound to their chat
    assert (await tg.post(tap(3, "q-1", theirs[0][1]))).status_code == 200
    assert expired(tg)
    # a correctly signed button for my chat pointing at their conversation
    with tg.services.sessions() as session:
        other_id = session.scalars(select(Conversation.id).order_by(Conversation.id)).all()[1]
    data = tg.connector.signer.sign(str(CHAT), other_id, "help_kind", "1")
    assert (await tg.post(tap(4, "q-2", data))).status_code == 200
    assert expired(tg)
    assert step_of(tg, 0) == step_of(tg, 1) == "help_kind"
    assert mine[0][1] != theirs[0][1]


async def test_expired_note_is_translated(tg: Harness) -> None:
    update = fixture("callback_forged")
    update["callback_query"]["from"]["language_code"] = "es"
    tg.services.program = tg.services.program.model_copy(update={"languages": ("en", "es")})
    assert (await tg.post(update)).status_code == 200
    note = tg.fake.calls_to("answerCallbackQuery")[-1].params["text"]
    translated = tg.services.catalogs.translator("es").gettext(MSG_BUTTON_EXPIRED)
    assert note == translated


def test_two_taps_on_one_button_in_two_processes_act_once(sqlite_services: Services) -> None:
    """Both taps pass the early check (each server process ran it before either was stored);
    under the person's lock only the first is acted on, the second changes nothing."""
    services = sqlite_services

    def tap_message(number: int, text: str, answers: AnswerTo | None) -> InboundMessage:
        return InboundMessage(
            channel="telegram",
            address="424242",
            text=text,
            provider_id=f"tg:{number}",
            received_at=services.clock(),
            answers=answers,
        )

    first = receive(services, tap_message(1, "hi", None), reply_inline=False)
    with services.sessions() as session:
        shown = session.get(Conversation, first.conversation_id)
        assert shown is not None
        answers = AnswerTo(shown.id, step_token(shown.step))
    won = receive(services, tap_message(2, "1", answers), reply_inline=False)
    lost = receive(services, tap_message(3, "1", answers), reply_inline=False)
    assert not won.stale
    assert lost.stale
    with services.sessions() as session:
        taps = session.scalars(
            select(Message).where(Message.direction == "in", Message.provider_id == "tg:3")
        ).all()
        assert taps == []  # the losing tap left no trace in the conversation

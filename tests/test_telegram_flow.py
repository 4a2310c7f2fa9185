"""End to end: a person opens a deep link from a card, taps through the intake and ends with
a stored handoff whose pathway comes from the card's code."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import select

from bot.db import transaction
from bot.models import Handoff, Message
from bot.referrals import add_code
from tests.fakes.telegram_api import Call
from tests.fakes.telegram_harness import CHAT, TOKEN, Harness, fixture


def button(call: Call, label_start: str) -> tuple[str, str]:
    for row in call.params["reply_markup"]["inline_keyboard"]:
        for b in row:
            if b["text"].startswith(label_start):
                return b["text"], b["callback_data"]
    raise AssertionError(f"no button {label_start!r} in {call.params['text']!r}")


def tap_update(update_id: int, question: Call, label: str, data: str) -> dict[str, Any]:
    update: dict[str, Any] = fixture("callback_query")
    update["update_id"] = update_id
    query = update["callback_query"]
    query["id"] = f"query-{update_id}"
    query["data"] = data
    query["message"]["message_id"] = 100 + update_id
    query["message"]["text"] = question.params["text"]
    query["message"]["reply_markup"] = question.params["reply_markup"]
    return update


async def test_deep_link_and_taps_end_in_a_handoff_with_the_codes_pathway(
    tg: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with transaction(tg.services.sessions) as session:
        add_code(
            session,
            "qrt-north",
            pathway="naloxone_plus",
            team="QRT North",
            now=tg.services.clock(),
        )
    assert (await tg.post(fixture("start_code"))).status_code == 200
    await tg.deliver()
    update_id = 10

    async def choose(label: str) -> None:
        nonlocal update_id
        update_id += 1
        question = tg.fake.calls_to("sendMessage")[-1]
        text, data = button(question, label)
        response = await tg.post(tap_update(update_id, question, text, data))
        assert response.status_code == 200
        await tg.deliver()

    async def type_text(text: str) -> None:
        nonlocal update_id
        update_id += 1
        update = fixture("message")
        update["update_id"] = update_id
        update["message"]["text"] = text
        assert (await tg.post(update)).status_code == 200
        await tg.deliver()

    await choose("1. Talk with someone today")
    await type_text("Robin")
    await choose("1. Yes")
    await choose("1. Message me here")
    await choose("1. As soon as possible")
    await choose("1. Yes, you can share it")

    assert "A peer recovery coach will reach out" in tg.fake.sent_texts()[-1]
    with tg.services.sessions() as session:
        handoff = session.scalars(select(Handoff)).one()
        assert (handoff.pathway, handoff.channel, handoff.display_name) == (
            "naloxone_plus",
            "telegram",
            "Robin",
        )
        assert handoff.help_kind == "talk_today"
        # every reply went out (later timers and follow-ups may still wait in the outbox)
        replies = session.scalars(
            select(Message).where(Message.direction == "out", Message.reply_to_id.is_not(None))
        ).all()
        assert replies and all(m.status == "sent" for m in replies)
    taps = tg.fake.calls_to("answerCallbackQuery")
    assert len(taps) == 5 and not any("text" in c.params for c in taps)
    # nothing personal or secret in the logs of the whole run
    for secret in (TOKEN, str(CHAT), "Robin", "Sam"):
        assert secret not in caplog.text

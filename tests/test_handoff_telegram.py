"""A coach on Telegram takes a handoff from a person on SMS: alert with buttons, Accept,
relay both ways through the two provider fakes, DONE, outcome by button."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.conversations import receive
from bot.db import transaction
from bot.models import Handoff, Shift
from bot.services import Services
from connectors.base import InboundMessage
from tests.fakes.telegram_harness import CHAT, Harness, fixture, running_harness, text_update
from tests.fakes.twilio_api import FakeTwilio, running_fake
from tests.fakes.twilio_app import PERSON, attach
from tests.test_telegram_link import add_coach, new_code

INTAKE = ["hi", "1", "Sam", "yes", "1", "asap", "1"]


@pytest.fixture
async def both(sqlite_services: Services) -> AsyncIterator[tuple[Harness, FakeTwilio]]:
    with running_fake() as twilio:
        attach(sqlite_services, twilio, "http://testserver")
        async with running_harness(sqlite_services) as harness:
            yield harness, twilio


def tap(data: str, n: int) -> dict[str, Any]:
    update: dict[str, Any] = fixture("callback_query")
    update["update_id"] = 900 + n
    update["callback_query"]["id"] = f"tap-{n}"
    update["callback_query"]["data"] = data
    update["callback_query"]["message"]["chat"]["id"] = CHAT
    update["callback_query"]["from"]["id"] = CHAT
    return update


def buttons(tg: Harness) -> list[tuple[str, str]]:
    markup = tg.fake.calls_to("sendMessage")[-1].params.get("reply_markup")
    assert markup is not None
    rows = (
        json.loads(markup)["inline_keyboard"]
        if isinstance(markup, str)
        else markup["inline_keyboard"]
    )
    return [(b["text"], b["callback_data"]) for row in rows for b in row]


async def test_sms_person_telegram_coach(both: tuple[Harness, FakeTwilio]) -> None:
    tg, sms = both
    services = tg.services
    coach = add_coach(services)
    with transaction(services.sessions) as session:
        for day in range(7):
            session.add(
                Shift(
                    responder_id=coach,
                    kind="weekly",
                    weekday=day,
                    start_time=dt.time(0),
                    end_time=dt.time(0),
                    available=True,
                )
            )
    await tg.post(text_update(1, f"/link {new_code(services)}"))

    def person(text: str, n: int) -> None:
        receive(
            services,
            InboundMessage("sms", PERSON, text, f"SMP{n}", services.clock()),
            reply_inline=True,
        )

    for n, text in enumerate(INTAKE):
        person(text, n)
    await tg.deliver()
    await tg.deliver()
    with services.sessions() as session:
        code = session.scalars(select(Handoff)).one().code
    assert f"New request {code}" in tg.fake.sent_texts()[-1]
    labels = buttons(tg)
    assert [label for label, _ in labels] == ["Accept", "Can't now"]

    await tg.post(tap(labels[0][1], 1))  # Accept
    await tg.deliver()
    assert any(r.to == PERSON and r.body.startswith("Good news: Maya") for r in sms.requests)
    assert f"You have request {code}" in tg.fake.sent_texts()[-1]

    await tg.post(text_update(2, "Hi Sam, I can call you in 10 minutes"))
    await tg.deliver()
    assert sms.requests[-1].to == PERSON
    assert sms.requests[-1].body == "Hi Sam, I can call you in 10 minutes"

    person("ok thank you", 50)
    await tg.deliver()
    assert tg.fake.sent_texts()[-1] == f"{code} Sam: ok thank you"

    await tg.post(text_update(3, "DONE"))
    await tg.deliver()
    outcome = dict(buttons(tg))
    await tg.post(tap(outcome["We connected"], 2))
    await tg.deliver()
    with services.sessions() as session:
        handoff = session.scalars(select(Handoff)).one()
    assert (handoff.status, handoff.outcome) == ("completed", "connected")
    assert str(CHAT) not in " ".join(r.body for r in sms.requests)
    assert PERSON not in " ".join(tg.fake.sent_texts())

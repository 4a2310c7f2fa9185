"""The Telegram webhook, table-driven from recorded updates, through the real PTB code path."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from bot.conversations import MSG_MEDIA_ONLY
from bot.models import Conversation, Message, ReferralCode
from connectors.telegram_texts import MSG_PRIVATE_ONLY
from tests.fakes.telegram_harness import Harness, fixture


@dataclass(frozen=True)
class Case:
    fixture: str
    secret: str | None = "right"  # "right", "wrong" or None (no header)
    status: int = 200
    stored_inbound: int = 0  # person messages that entered the intake
    reply: str | None = None  # start of the first reply sent after delivery
    direct: tuple[str, ...] = ()  # Bot API methods called while handling the request
    reason: str | None = None  # part of the error reason


CASES = {
    # a person's first words: stored, welcome and first question queued
    "text message": Case("message", stored_inbound=1, reply="Hi, this is"),
    # the Start button: the welcome, not the SMS "subscribed again" text
    "plain /start": Case("start", stored_inbound=1, reply="Hi, this is"),
    # a deep link from a card; the pathway is checked in its own test
    "/start with a code": Case("start_code", stored_inbound=1, reply="Hi, this is"),
    # media: a kind reply that only text can be read
    "photo": Case("photo", stored_inbound=1, reply=MSG_MEDIA_ONLY),
    "voice": Case("voice", stored_inbound=1, reply=MSG_MEDIA_ONLY),
    "sticker": Case("sticker", stored_inbound=1, reply=MSG_MEDIA_ONLY),
    # ignored quietly
    "edited message": Case("edited_message"),
    "channel post": Case("channel_post"),
    "unknown update type": Case("unknown_update"),
    "group chatter": Case("group_chatter"),
    # groups: the bot says it works in private chats only; nothing enters the intake
    "command in a group": Case("group_message", direct=("sendMessage",)),
    "added to a group": Case("added_to_group", direct=("sendMessage",)),
    # authentication comes first: nothing is parsed or stored
    "no secret": Case("message", secret=None, status=403, reason="secret"),
    "wrong secret": Case("message", secret="wrong", status=403, reason="secret"),
    "wrong secret, malformed body": Case("malformed", secret="wrong", status=403),
    # malformed requests get a reason
    "malformed JSON": Case("malformed", status=400, reason="not valid JSON"),
    "JSON but not an update": Case("not_an_update", status=400, reason="update_id"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_update(tg: Harness, case: Case) -> None:
    secrets = {"right": None, "wrong": "not-the-secret", None: None}
    if case.secret == "right":
        response = await tg.post(fixture(case.fixture))
    else:
        response = await tg.post(fixture(case.fixture), secret=secrets[case.secret])
    assert response.status_code == case.status, response.text
    if case.reason:
        assert case.reason in response.json()["reason"]
    assert [c.method for c in tg.fake.calls] == list(case.direct)
    with tg.services.sessions() as session:
        inbound = session.scalar(
            select(func.count()).select_from(Message).where(Message.direction == "in")
        )
    assert inbound == case.stored_inbound
    results = await tg.deliver()
    assert all(r.ok for r in results)
    if case.reply is not None:
        assert tg.fake.sent_texts()[len(case.direct)].startswith(case.reply)
    elif not case.direct:
        assert tg.fake.calls == []


async def test_group_notice_says_private_only_once(tg: Harness) -> None:
    for _ in range(3):
        assert (await tg.post(fixture("group_message"))).status_code == 200
    assert (await tg.post(fixture("added_to_group"))).status_code == 200
    assert tg.fake.sent_texts() == [MSG_PRIVATE_ONLY]
    assert tg.fake.calls_to("sendMessage")[0].params["chat_id"] == -4001234


async def test_deep_link_code_sets_pathway_and_team(tg: Harness) -> None:
    with tg.services.sessions.begin() as session:
        session.add(
            ReferralCode(code="QRT-NORTH", pathway="naloxone_plus", team="QRT North", active=True)
        )
    assert (await tg.post(fixture("start_code"))).status_code == 200
    with tg.services.sessions() as session:
        conversation = session.scalars(select(Conversation)).one()
    assert (conversation.pathway, conversation.referral_team) == ("naloxone_plus", "QRT North")
    assert conversation.referral_code == "QRT-NORTH"


async def test_unknown_code_starts_a_normal_conversation(tg: Harness) -> None:
    assert (await tg.post(fixture("start_code"))).status_code == 200
    with tg.services.sessions() as session:
        conversation = session.scalars(select(Conversation)).one()
    assert (conversation.pathway, conversation.referral_code) == ("self_referral", None)


async def test_language_code_is_the_first_guess(tg: Harness) -> None:
    program = tg.services.program
    tg.services.program = program.model_copy(update={"languages": ("en", "es")})
    update = fixture("message")
    update["message"]["from"]["language_code"] = "es-MX"
    update["message"]["text"] = "hola"
    assert (await tg.post(update)).status_code == 200
    with tg.services.sessions() as session:
        conversation = session.scalars(select(Conversation)).one()
    assert conversation.language == "es"


async def test_a_retried_update_is_handled_once(tg: Harness) -> None:
    for _ in range(2):
        assert (await tg.post(fixture("message"))).status_code == 200
    await tg.deliver()
    with tg.services.sessions() as session:
        inbound = session.scalar(
            select(func.count()).select_from(Message).where(Message.direction == "in")
        )
    assert inbound == 1
    assert len(tg.fake.sent_texts()) == 2  # welcome and first question, once


async def test_stop_always_works(tg: Harness) -> None:
    await tg.post(fixture("message"))
    stop = fixture("message")
    stop["update_id"] += 1000
    stop["message"]["text"] = "/stop"
    assert (await tg.post(stop)).status_code == 200
    await tg.deliver()
    assert tg.fake.sent_texts()[-1].startswith("You are unsubscribed")
    again = fixture("message")
    again["update_id"] += 2000
    again["message"]["text"] = "hello?"
    assert (await tg.post(again)).status_code == 200
    before = len(tg.fake.sent_texts())
    await tg.deliver()
    assert len(tg.fake.sent_texts()) == before  # nothing goes to an opted-out chat


async def test_start_after_stop_subscribes_again(tg: Harness) -> None:
    await tg.post(fixture("message"))
    stop = fixture("message")
    stop["update_id"] += 1000
    stop["message"]["text"] = "STOP"
    await tg.post(stop)
    assert (await tg.post(fixture("start"))).status_code == 200
    await tg.deliver()
    assert tg.fake.sent_texts()[-1].startswith("You are subscribed again")

"""Sending through the real PTB `Bot` against the local API fake: buttons, and every failure
mapped to a `SendResult` the outbox worker can act on."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from bot.services import Services
from connectors.base import OutboundChoice, OutboundMessage, SendResult
from connectors.telegram import TelegramConnector
from tests.fakes.telegram_api import FakeTelegram, telegram_api
from tests.fakes.telegram_harness import CHAT, TOKEN, settings_for


@pytest.fixture
async def sent(sqlite_services: Services) -> AsyncIterator[tuple[TelegramConnector, FakeTelegram]]:
    with telegram_api(TOKEN) as fake:
        connector = TelegramConnector(sqlite_services, settings_for(fake))
        try:
            yield connector, fake
        finally:
            await connector.aclose()


QUESTION = OutboundMessage(
    channel="telegram",
    address=str(CHAT),
    text="Are you safe right now?",
    choices=(OutboundChoice(1, "yes", "Yes"), OutboundChoice(2, "no", "No")),
    hint="Reply with a number, or SKIP to skip.",
    skip_label="Skip",
    step="safe_now",
    conversation_id=7,
)


async def test_send_renders_an_inline_keyboard(
    sent: tuple[TelegramConnector, FakeTelegram],
) -> None:
    connector, fake = sent
    result = await connector.send(QUESTION)
    assert result.ok and result.provider_id and result.provider_id.startswith("tg:")
    assert str(CHAT) not in result.provider_id  # no chat id in clear in the database
    call = fake.calls_to("sendMessage")[0].params
    assert call["chat_id"] == CHAT
    assert call["text"] == "Are you safe right now?\nReply with a number, or SKIP to skip."
    rows = call["reply_markup"]["inline_keyboard"]
    assert [[b["text"] for b in row] for row in rows] == [["1. Yes"], ["2. No"], ["Skip"]]
    taps = [connector.signer.verify(str(CHAT), row[0]["callback_data"]) for row in rows]
    assert [t.text if t else None for t in taps] == ["1", "2", "SKIP"]
    assert connector.signer.verify(str(CHAT + 1), rows[0][0]["callback_data"]) is None


async def test_without_a_step_choices_degrade_to_numbered_lines(
    sent: tuple[TelegramConnector, FakeTelegram],
) -> None:
    connector, fake = sent
    plain = OutboundMessage(
        channel="telegram",
        address=str(CHAT),
        text="Pick one:",
        choices=QUESTION.choices,
        hint="Reply with a number.",
    )
    assert (await connector.send(plain)).ok
    call = fake.calls_to("sendMessage")[0].params
    assert call["text"] == "Pick one:\n1. Yes\n2. No\nReply with a number."
    assert "reply_markup" not in call


FAILURES = [
    # (label, HTTP status, description, retry_after, expected result)
    (
        "blocked by the user",
        403,
        "Forbidden: bot was blocked by the user",
        None,
        SendResult(error_code="blocked", permanent=True),
    ),
    (
        "user deactivated",
        403,
        "Forbidden: user is deactivated",
        None,
        SendResult(error_code="blocked", permanent=True),
    ),
    (
        "flood control",
        429,
        "Too Many Requests: retry after 7",
        7,
        SendResult(error_code="rate_limited", retry_after=7.0),
    ),
    (
        "chat not found",
        400,
        "Bad Request: chat not found",
        None,
        SendResult(error_code="chat_not_found", permanent=True),
    ),
    # our request was wrong: never the person's fault, so not permanent
    ("bad request", 400, "Bad Request: message is too long", None, SendResult("", "bad_request")),
    ("server error", 502, "Bad Gateway", None, SendResult(error_code="network")),
    # a revoked token is our problem: the person must not be marked unreachable
    ("token revoked", 401, "Unauthorized", None, SendResult(error_code="invalid_token")),
]


@pytest.mark.parametrize(
    ("status", "description", "retry_after", "expected"),
    [row[1:] for row in FAILURES],
    ids=[row[0] for row in FAILURES],
)
async def test_failures_map_to_results(
    sent: tuple[TelegramConnector, FakeTelegram],
    status: int,
    description: str,
    retry_after: int | None,
    expected: SendResult,
) -> None:
    connector, fake = sent
    fake.fail("sendMessage", status, description, retry_after=retry_after)
    result = await connector.send(QUESTION)
    assert (result.error_code, result.permanent, result.retry_after) == (
        expected.error_code,
        expected.permanent,
        expected.retry_after,
    )


async def test_blocked_chat(sent: tuple[TelegramConnector, FakeTelegram]) -> None:
    connector, fake = sent
    fake.blocked.add(CHAT)
    result = await connector.send(QUESTION)
    assert (result.error_code, result.permanent) == ("blocked", True)


async def test_network_down_is_transient(sqlite_services: Services) -> None:
    with telegram_api(TOKEN) as fake:
        settings = settings_for(fake)
    # the fake has stopped: nothing listens on its port any more
    connector = TelegramConnector(sqlite_services, settings)
    try:
        result = await connector.send(QUESTION)
    finally:
        await connector.aclose()
    assert (result.error_code, result.permanent) == ("network", False)


async def test_nothing_personal_or_secret_reaches_the_logs(
    sent: tuple[TelegramConnector, FakeTelegram], caplog: pytest.LogCaptureFixture
) -> None:
    connector, fake = sent
    caplog.set_level(logging.DEBUG)
    await connector.send(QUESTION)
    fake.fail("sendMessage", 403, "Forbidden: bot was blocked by the user")
    await connector.send(QUESTION)
    logged = caplog.text + " ".join(str(r.args) for r in caplog.records)
    for secret in (TOKEN, str(CHAT), "Are you safe"):
        assert secret not in logged
    assert "blocked" in caplog.text  # the failure itself is logged, by code

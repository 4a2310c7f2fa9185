"""Settings, `doorway telegram set-webhook` and getUpdates polling, against the API fake."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.config import ConfigError
from bot.models import Message
from bot.services import Services
from connectors.telegram import ALLOWED_UPDATES, TelegramConnector
from connectors.telegram_cli import set_webhook, status_line, telegram_connector
from connectors.telegram_polling import poll
from connectors.telegram_settings import TelegramSettings, load_telegram_settings
from tests.fakes.telegram_api import telegram_api
from tests.fakes.telegram_harness import SECRET, TOKEN, fixture, settings_for


@pytest.fixture(autouse=True)
def _no_telegram_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "TELEGRAM_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


SETTINGS_ERRORS = [
    # (label, environment, the start of the one-line error)
    ("token not a token", {"TELEGRAM_BOT_TOKEN": "abc"}, "TELEGRAM_BOT_TOKEN: does not look"),
    (
        "secret with spaces",
        {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": "has spaces"},
        "TELEGRAM_WEBHOOK_SECRET: must be 1-256",
    ),
    (
        "secret too long",
        {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_WEBHOOK_SECRET": "a" * 257},
        "TELEGRAM_WEBHOOK_SECRET: must be 1-256",
    ),
    ("api base not http", {"TELEGRAM_API_BASE": "ftp://x"}, "TELEGRAM_API_BASE: must start"),
]


@pytest.mark.parametrize(
    ("env", "error"), [r[1:] for r in SETTINGS_ERRORS], ids=[r[0] for r in SETTINGS_ERRORS]
)
def test_bad_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], error: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_telegram_settings()
    assert str(caught.value).startswith(error)
    assert TOKEN not in str(caught.value)


def test_no_token_means_off(sqlite_services: Services) -> None:
    assert not load_telegram_settings().enabled
    assert status_line() == "Telegram: off (TELEGRAM_BOT_TOKEN not set)"
    assert telegram_connector(sqlite_services) is None


def test_webhook_needs_its_secret_but_polling_does_not(
    sqlite_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    with pytest.raises(ConfigError, match=r"^TELEGRAM_WEBHOOK_SECRET: required"):
        telegram_connector(sqlite_services)
    assert telegram_connector(sqlite_services, polling=True) is not None
    assert status_line() == "Telegram: on"


async def test_without_a_secret_every_webhook_is_refused(sqlite_services: Services) -> None:
    connector = TelegramConnector(sqlite_services, TelegramSettings(bot_token=TOKEN))
    assert not connector.secret_matches(None)
    assert not connector.secret_matches("")
    await connector.aclose()


async def test_set_webhook_registers_url_secret_and_updates() -> None:
    with telegram_api(TOKEN) as fake:
        url = await set_webhook(settings_for(fake), "https://doorway.example.org/")
    assert url == "https://doorway.example.org/webhooks/telegram"
    assert [c.method for c in fake.calls] == ["getMe", "setWebhook"]
    assert fake.webhook is not None
    assert fake.webhook["url"] == url
    assert fake.webhook["secret_token"] == SECRET
    assert fake.webhook["allowed_updates"] == list(ALLOWED_UPDATES)


async def test_set_webhook_wants_https() -> None:
    with telegram_api(TOKEN) as fake, pytest.raises(ConfigError, match="https"):
        await set_webhook(settings_for(fake), "http://127.0.0.1:8000")


async def test_polling_handles_updates_once_and_stops(sqlite_services: Services) -> None:
    with telegram_api(TOKEN) as fake:
        connector = TelegramConnector(sqlite_services, settings_for(fake))
        fake.push_update(fixture("message"))
        fake.push_update(fixture("edited_message"))
        stop = asyncio.Event()
        handled = await poll(connector, stop, long_poll_seconds=1, max_rounds=2)
        # once asked to stop, polling ends without another round
        stop.set()
        assert await asyncio.wait_for(poll(connector, stop, long_poll_seconds=1), 2) == 0
        await connector.aclose()
    assert handled == 2
    polls = fake.calls_to("getUpdates")
    assert polls[0].params["allowed_updates"] == list(ALLOWED_UPDATES)
    assert polls[1].params["offset"] == fixture("edited_message")["update_id"] + 1
    assert fake.calls[0].method == "deleteWebhook"
    with sqlite_services.sessions() as session:
        inbound = session.scalar(
            select(func.count()).select_from(Message).where(Message.direction == "in")
        )
    assert inbound == 1


async def test_polling_backs_off_on_errors(sqlite_services: Services) -> None:
    with telegram_api(TOKEN) as fake:
        connector = TelegramConnector(sqlite_services, settings_for(fake))
        fake.fail("getUpdates", 502, "Bad Gateway")
        fake.push_update(fixture("message"))
        stop = asyncio.Event()
        handled = await poll(connector, stop, long_poll_seconds=0, max_rounds=2)
        await connector.aclose()
    assert handled == 1


def test_serve_refuses_a_token_without_a_webhook_secret(tmp_path: Path) -> None:
    from tests.test_cli import run

    result = run(["serve", "--port", "0"], tmp_path, TELEGRAM_BOT_TOKEN=TOKEN)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "doorway: TELEGRAM_WEBHOOK_SECRET: required with TELEGRAM_BOT_TOKEN for the webhook "
        "(or run `doorway serve --telegram-polling`)"
    )
    assert TOKEN not in result.stdout + result.stderr

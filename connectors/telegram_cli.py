"""Start-up wiring and the `doorway telegram` command (set-webhook, delete-webhook)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from typing import Any

from telegram import Bot
from telegram.error import InvalidToken, TelegramError

from bot.config import ConfigError, load_settings
from bot.services import Services
from connectors.telegram import ALLOWED_UPDATES, TelegramConnector
from connectors.telegram_logging import quiet_provider_logs
from connectors.telegram_settings import (
    WEBHOOK_PATH,
    TelegramSettings,
    load_telegram_settings,
    require_webhook_secret,
)


def status_line() -> str:
    """For start-up: whether the channel is on, and if not, what is missing."""
    settings = load_telegram_settings()
    if not settings.enabled:
        return "Telegram: off (TELEGRAM_BOT_TOKEN not set)"
    return "Telegram: on"


def telegram_connector(services: Services, *, polling: bool = False) -> TelegramConnector | None:
    """The connector when TELEGRAM_BOT_TOKEN is set, else None (the channel is off).

    A webhook needs its secret; polling does not, because nothing is served.
    """
    settings = load_telegram_settings()
    if not settings.enabled:
        return None
    if not polling:
        require_webhook_secret(settings)
    return TelegramConnector(services, settings)


async def serve_with_polling(server: Any, connector: TelegramConnector) -> None:
    """Run the web server (a `uvicorn.Server`) and getUpdates polling together; Ctrl-C stops
    both."""
    from connectors.telegram_polling import poll

    stop = asyncio.Event()
    poller = asyncio.create_task(
        poll(connector, stop, long_poll_seconds=connector.settings.polling_timeout)
    )
    try:
        await server.serve()
    finally:
        stop.set()
        poller.cancel()  # an in-flight long poll need not run out its timeout
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await poller
        await connector.aclose()


def _bot(settings: TelegramSettings) -> Bot:
    token = settings.token()
    quiet_provider_logs(token)
    return Bot(token, base_url=settings.api_base)


async def set_webhook(settings: TelegramSettings, public_url: str, *, drop: bool = False) -> str:
    """Register PUBLIC_URL + /webhooks/telegram with the secret and the updates we handle."""
    if not public_url.startswith("https://"):
        raise ConfigError("DOORWAY_PUBLIC_URL: Telegram only calls https:// webhooks")
    secret = require_webhook_secret(settings)
    url = public_url.rstrip("/") + WEBHOOK_PATH
    async with _bot(settings) as bot:  # initialising calls getMe, which checks the token
        await bot.set_webhook(
            url=url,
            secret_token=secret,
            allowed_updates=list(ALLOWED_UPDATES),
            drop_pending_updates=drop,
        )
    return url


async def delete_webhook(settings: TelegramSettings) -> None:
    async with _bot(settings) as bot:
        await bot.delete_webhook()


def _run(call: Any) -> int:
    try:
        asyncio.run(call)
    except InvalidToken:
        print("doorway: TELEGRAM_BOT_TOKEN: rejected by Telegram", file=sys.stderr)
        return 1
    except TelegramError as exc:
        print(f"doorway: Telegram refused: {exc.message}", file=sys.stderr)
        return 1
    return 0


def _cmd_set_webhook(args: argparse.Namespace) -> int:
    settings = load_telegram_settings()
    public_url = load_settings().public_url
    code = _run(set_webhook(settings, public_url, drop=args.drop_pending))
    if code == 0:
        print(f"Telegram webhook set: {public_url}{WEBHOOK_PATH}")
        print(f"Updates: {', '.join(ALLOWED_UPDATES)}")
    return code


def _cmd_delete_webhook(_args: argparse.Namespace) -> int:
    code = _run(delete_webhook(load_telegram_settings()))
    if code == 0:
        print("Telegram webhook removed.")
    return code


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `doorway telegram set-webhook|delete-webhook`."""
    telegram = sub.add_parser("telegram", help="Telegram channel tools")
    actions = telegram.add_subparsers(dest="telegram", required=True)
    set_hook = actions.add_parser("set-webhook", help="register DOORWAY_PUBLIC_URL with Telegram")
    set_hook.add_argument(
        "--drop-pending", action="store_true", help="discard updates waiting at Telegram"
    )
    set_hook.set_defaults(func=_cmd_set_webhook)
    actions.add_parser("delete-webhook", help="stop Telegram calling the webhook").set_defaults(
        func=_cmd_delete_webhook
    )

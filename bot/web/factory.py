"""The channels every way of running Doorway builds, and the app built from the environment
alone, for `uvicorn --factory bot.web.factory:app` (each uvicorn worker process calls `app()`
itself: fresh interpreters, nothing shared). `doorway serve --workers N` forks instead, after
loading once (bot/web/prefork.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from bot.config import ConfigError, load_settings
from bot.heap import freeze_startup_objects
from bot.keys import with_local_keys
from bot.services import Services, build_services
from connectors.base import Connector

if TYPE_CHECKING:  # the outbox worker imports this module for its channels, never the app
    from fastapi import FastAPI


def connectors_for(services: Services, *, telegram_polling: bool = False) -> list[Connector]:
    """The web chat, plus SMS and Telegram when their credentials are set (a wrong value
    stops start-up). Every way of running Doorway builds its channels here.

    A provider's SDK is imported only when its channel is on: each is megabytes of memory
    in every server and worker process.
    """
    from connectors.telegram_settings import load_telegram_settings
    from connectors.twilio_settings import load_twilio_settings
    from connectors.web_chat import WebChatConnector

    chosen: list[Connector] = [WebChatConnector(services)]
    twilio = load_twilio_settings()
    if twilio is not None:
        from connectors.twilio_sms import TwilioSmsConnector

        chosen.append(TwilioSmsConnector(services, twilio))
    if load_telegram_settings().enabled:
        from connectors.telegram_cli import telegram_connector

        telegram = telegram_connector(services, polling=telegram_polling)
        if telegram is not None:
            chosen.append(telegram)
    return chosen


def services_from_environment() -> Services:
    settings = load_settings()
    if settings.is_sqlite:
        settings, _note = with_local_keys(settings)
    elif not (settings.encryption_keys and settings.index_key):
        raise ConfigError("DOORWAY_ENCRYPTION_KEYS: required with PostgreSQL")
    return build_services(settings)


def app() -> FastAPI:
    """One server process: services, connectors, warmed models; disposed on shutdown.

    Migrations are not run here: the parent (`doorway serve`) or `doorway db upgrade` did.
    """
    from bot.web.app import create_app

    services = services_from_environment()
    connectors = connectors_for(services)
    services.connectors.update({c.name: c for c in connectors})
    services.warm_up()  # before the first request, not during it
    built = create_app(services, connectors)
    inner = built.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[None]:
        async with inner(application):
            yield
        # uvicorn has stopped taking requests and finished the in-flight ones by now.
        services.close()

    built.router.lifespan_context = lifespan
    freeze_startup_objects()
    return built


#: Longer than the Twilio reply budget (10 s), so a reply being computed still goes out.
GRACE_SECONDS = 20

"""Drive the Telegram connector end to end in tests: the app over ASGI, the API fake, the outbox."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from bot.conversations import outbound_from_stored
from bot.db import transaction
from bot.models import ChannelIdentity, Message, OutboxJob
from bot.services import Services
from bot.web.app import create_app
from connectors.base import SendResult
from connectors.telegram import AUTH_HEADER, TelegramConnector
from connectors.telegram_settings import WEBHOOK_PATH, TelegramSettings
from tests.fakes.telegram_api import FakeTelegram, telegram_api

TOKEN = "123456789:AAE-test_token-abcdefghijklmnopqrstuvw"
SECRET = "test_webhook-secret_0123"
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "telegram"
CHAT = 5550001


def fixture(name: str) -> Any:
    """A recorded update in Telegram's format (parsed), or the raw bytes of a broken one."""
    raw = (FIXTURES / f"{name}.json").read_bytes()
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def text_update(update_id: int, text: str, chat: int = CHAT) -> dict[str, Any]:
    """A person's text message as Telegram delivers it, from `chat`."""
    update: dict[str, Any] = fixture("message")
    update["update_id"] = update_id
    update["message"]["text"] = text
    update["message"]["chat"]["id"] = update["message"]["from"]["id"] = chat
    return update


def settings_for(fake: FakeTelegram) -> TelegramSettings:
    return TelegramSettings(bot_token=TOKEN, webhook_secret=SECRET, api_base=fake.base_url)


@dataclass
class Harness:
    services: Services
    connector: TelegramConnector
    fake: FakeTelegram
    client: httpx.AsyncClient

    async def post(self, body: Any, *, secret: str | None = SECRET) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers[AUTH_HEADER] = secret
        return await self.client.post(WEBHOOK_PATH, content=content, headers=headers)

    async def deliver(self) -> list[SendResult]:
        """Send every queued reply: through the real outbox worker when it is there."""
        try:
            from bot.outbox.worker import run_once
        except ImportError:
            return await self.deliver_directly()
        await run_once(self.services)
        return []

    async def deliver_directly(self) -> list[SendResult]:
        """What the worker does for due sends, using only its contract
        (`services.connectors[channel].send`); for when `bot.outbox` is not importable."""
        with self.services.sessions() as session:
            jobs = session.scalars(
                select(OutboxJob)
                .where(OutboxJob.status == "pending", OutboxJob.kind == "send")
                .order_by(OutboxJob.id)
            ).all()
            work = []
            for job in jobs:
                message = session.get(Message, job.message_id)
                identity = session.get(ChannelIdentity, job.identity_id)
                assert message is not None and identity is not None
                work.append((job.id, message.id, outbound_from_stored(message, identity.address)))
        results = []
        for job_id, message_id, outbound in work:
            result = await self.services.connectors[outbound.channel].send(outbound)
            results.append(result)
            with transaction(self.services.sessions) as session:
                sent_job = session.get(OutboxJob, job_id)
                message = session.get(Message, message_id)
                assert sent_job is not None and message is not None
                sent_job.status = "done" if result.ok else "failed"
                message.status = "sent" if result.ok else "failed"
                message.provider_id = result.provider_id
        return results


def make_harness(services: Services, fake: FakeTelegram) -> Harness:
    connector = TelegramConnector(services, settings_for(fake))
    services.connectors[connector.name] = connector
    app = create_app(services, [connector])
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    return Harness(services=services, connector=connector, fake=fake, client=client)


@contextlib.asynccontextmanager
async def running_harness(services: Services) -> AsyncIterator[Harness]:
    """A fake Bot API, the connector pointed at it and the app around it, closed afterwards."""
    with telegram_api(TOKEN) as fake:
        harness = make_harness(services, fake)
        try:
            yield harness
        finally:
            await harness.client.aclose()
            await harness.connector.aclose()

"""Telegram through python-telegram-bot, used as transport only: webhook in, Bot API out."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import time
import weakref
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, ClassVar

from telegram import Bot, InlineKeyboardMarkup, Update
from telegram.error import TelegramError

from bot.conversations import ReceiveResult, receive
from bot.services import Services
from connectors.base import (
    AnswerTo,
    Capabilities,
    Connector,
    InboundMessage,
    OutboundMessage,
    SendResult,
    rejected,
    render_text,
)
from connectors.telegram_callbacks import CallbackSigner, keyboard, verify_command
from connectors.telegram_chats import (
    CHANNEL,
    ChatState,
    chat_language,
    chat_state,
    link_chat,
    pick_language,
    tap_is_current,
)
from connectors.telegram_coach import CoachHandler, CoachMessage, handoff_coach
from connectors.telegram_errors import result_for
from connectors.telegram_logging import quiet_provider_logs
from connectors.telegram_settings import WEBHOOK_PATH, TelegramSettings
from connectors.telegram_texts import (
    MSG_BUTTON_EXPIRED,
    MSG_LINK_FAILED,
    MSG_LINKED,
    MSG_PRIVATE_ONLY,
)
from connectors.telegram_updates import (
    ButtonPress,
    GroupNotice,
    PrivateMessage,
    classify,
)

if TYPE_CHECKING:  # the web app's types; a worker that only sends never imports them
    from fastapi import APIRouter
    from starlette.requests import Request

AUTH_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ("message", "callback_query", "my_chat_member")
MAX_TEXT = 4096
#: Telegram's Start button opens a chat; it is not the SMS START (resubscribe) keyword, so a
#: new person gets the welcome. Someone who sent STOP before does get START: they came back.
OPENING_TEXT = "hello"
#: A group hears "private chats only" at most once in this many seconds per process.
GROUP_NOTICE_EVERY = 3600.0
_MAX_NOTICED_GROUPS = 1000

log = logging.getLogger(__name__)

# Opt in to PTB's coming behaviour (time periods as timedelta): without it, PTB 22 warns from
# inside its own error handling whenever Telegram says "retry after".
os.environ.setdefault("PTB_TIMEDELTA", "true")


class TelegramConnector(Connector):
    """Holds a PTB `Bot`; the dialogue stays in `dialogues/` and `bot.conversations`."""

    name: ClassVar[str] = CHANNEL
    REDACT: ClassVar[tuple[str, ...]] = (
        "token",
        "bot_token",
        "webhook_secret",
        "chat",
        "from",
        "text",
        "caption",
        "first_name",
        "last_name",
        "username",
        "phone_number",
        "callback_data",
    )
    capabilities: ClassVar[Capabilities] = Capabilities(buttons=True, max_length=MAX_TEXT)

    def __init__(
        self,
        services: Services,
        settings: TelegramSettings,
        *,
        coach_handler: CoachHandler = handoff_coach,
    ) -> None:
        self.services = services
        self.settings = settings
        token = settings.token()
        quiet_provider_logs(token)
        self.bot = Bot(token, base_url=settings.api_base)
        self.signer = CallbackSigner(signing_key(services))
        self.coach_handler = coach_handler
        self._secret = settings.secret()
        # One update at a time per chat, so a double tap cannot answer two questions.
        self._chat_locks: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._noticed_groups: dict[str, float] = {}

    async def aclose(self) -> None:
        await self.bot.shutdown()

    # --- the webhook -------------------------------------------------------------------------

    def routes(self) -> APIRouter:
        # A plain Starlette route, as SMS's: FastAPI would only solve a dependency on the
        # Request. Imported here, by the web app: a worker process that only sends never does.
        from fastapi import APIRouter
        from starlette.responses import JSONResponse

        async def telegram_webhook(request: Request) -> JSONResponse:
            # Authenticate before reading the body: nothing unauthenticated is parsed.
            if not self.secret_matches(request.headers.get(AUTH_HEADER)):
                raise rejected(403, "missing or wrong secret token")
            update = self.parse(await request.body())
            await self.handle_update(update)
            return JSONResponse({"ok": True})

        router = APIRouter()
        router.add_route(WEBHOOK_PATH, telegram_webhook, methods=["POST"], include_in_schema=False)
        return router

    def secret_matches(self, given: str | None) -> bool:
        """Constant-time check; with no secret configured every request is refused."""
        if self._secret is None or given is None:
            return False
        return secrets.compare_digest(given.encode("utf-8"), self._secret.encode("utf-8"))

    def parse(self, body: bytes) -> Update:
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise rejected(400, "the body is not valid JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            raise rejected(400, "not a Telegram update: no integer update_id")
        try:
            return Update.de_json(data, self.bot)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise rejected(400, "not a Telegram update: a field is malformed") from None

    # --- routing one update ------------------------------------------------------------------

    async def handle_update(self, update: Update) -> None:
        """Do what the update asks; unknown kinds are ignored. Used by webhook and polling."""
        action = classify(update)
        if isinstance(action, GroupNotice):
            await self._group_notice(action)
        elif isinstance(action, PrivateMessage | ButtonPress):
            lock = self._chat_locks.get(action.chat)
            if lock is None:
                lock = self._chat_locks[action.chat] = asyncio.Lock()
            async with lock:
                await self._private(action)

    async def _private(self, action: PrivateMessage | ButtonPress) -> None:
        state = await asyncio.to_thread(chat_state, self.services, action.chat)
        if isinstance(action, PrivateMessage) and action.command == "link":
            await self._link(action, state)
        elif state.responder_id is not None:
            await self._coach(action, state)
        elif isinstance(action, ButtonPress):
            await self._button(action)
        else:
            await self._person(action, state)

    async def _person(self, action: PrivateMessage, state: ChatState) -> None:
        text, referral = action.text, None
        if action.command == "start":
            referral = action.start_code
            text = "START" if state.opted_out else OPENING_TEXT
        await self._receive(
            InboundMessage(
                channel=CHANNEL,
                address=action.chat,
                text=text,
                provider_id=action.provider_id,
                received_at=self.services.clock(),
                language_hint=action.language,
                referral_code=referral,
                media_count=action.media_count,
            )
        )

    async def _button(self, action: ButtonPress) -> None:
        tap = self.signer.verify(action.chat, action.data)
        if tap is None or not await asyncio.to_thread(
            tap_is_current, self.services, action.chat, action.provider_id, tap
        ):
            await self._button_expired(action)  # forged, stale or foreign: change nothing
            return
        result = await self._receive(
            InboundMessage(
                channel=CHANNEL,
                address=action.chat,
                text=tap.text,
                provider_id=action.provider_id,
                received_at=self.services.clock(),
                language_hint=action.language,
                # Checked again under the person's lock: a second tap elsewhere lost the race.
                answers=AnswerTo(tap.conversation_id, tap.step_token),
            )
        )
        if result.stale:
            await self._button_expired(action)
            return
        await self._quietly(self.bot.answer_callback_query(action.query_id))
        await self._show_picked(action)

    async def _button_expired(self, action: ButtonPress) -> None:
        language = await self._language(action.chat, action.language)
        note = self.services.catalogs.translator(language).gettext(MSG_BUTTON_EXPIRED)
        await self._quietly(
            self.bot.answer_callback_query(action.query_id, text=note, show_alert=True)
        )

    async def _show_picked(self, action: ButtonPress) -> None:
        """Replace the tapped keyboard by the answer, so old buttons cannot be pressed again."""
        if action.message_id is None:
            return
        if action.message_text and action.button_label:
            text = f"{action.message_text}\n\n✓ {action.button_label}"[:MAX_TEXT]
            await self._quietly(
                self.bot.edit_message_text(
                    text=text, chat_id=int(action.chat), message_id=action.message_id
                )
            )
        else:
            await self._quietly(
                self.bot.edit_message_reply_markup(
                    chat_id=int(action.chat), message_id=action.message_id, reply_markup=None
                )
            )

    async def _receive(self, inbound: InboundMessage) -> ReceiveResult:
        # receive() wakes the outbox for the replies it queued.
        return await self.services.run_database_work(
            receive, self.services, inbound, reply_inline=False
        )

    # --- coaches -----------------------------------------------------------------------------

    async def _link(self, action: PrivateMessage, state: ChatState) -> None:
        code = action.argument or ""
        linked = await asyncio.to_thread(link_chat, self.services, action.chat, code)
        if not linked and state.opted_out:
            return  # nothing goes to an opted-out person, not even a failed-code note
        language = await self._language(action.chat, action.language)
        translator = self.services.catalogs.translator(language)
        await self._send_text(
            action.chat, translator.gettext(MSG_LINKED if linked else MSG_LINK_FAILED)
        )

    async def _coach(self, action: PrivateMessage | ButtonPress, state: ChatState) -> None:
        assert state.responder_id is not None
        language = pick_language(self.services.program, state.responder_language, action.language)
        text = action.text if isinstance(action, PrivateMessage) else ""
        if isinstance(action, ButtonPress):
            command = verify_command(self.signer, action.chat, action.data)
            note = None
            if command is None:
                note = self.services.catalogs.translator(language).gettext(MSG_BUTTON_EXPIRED)
            await self._quietly(self.bot.answer_callback_query(action.query_id, text=note))
            if command is None:
                return
            text = command
        message = CoachMessage(
            responder_id=state.responder_id,
            channel=CHANNEL,
            address=action.chat,
            text=text,
            button_data=action.data if isinstance(action, ButtonPress) else None,
            language=language,
            received_at=self.services.clock(),
        )
        replies = await asyncio.to_thread(self.coach_handler, self.services, message)
        for reply in replies:
            await self.send(reply)

    # --- groups ------------------------------------------------------------------------------

    async def _group_notice(self, action: GroupNotice) -> None:
        now = time.monotonic()
        key = self.services.vault.blind_index("telegram-group", action.chat)
        last = self._noticed_groups.get(key)
        if last is not None and now - last < GROUP_NOTICE_EVERY:
            return
        if len(self._noticed_groups) >= _MAX_NOTICED_GROUPS:
            self._noticed_groups.clear()
        self._noticed_groups[key] = now
        language = pick_language(self.services.program, None, action.language)
        translator = self.services.catalogs.translator(language)
        await self._send_text(action.chat, translator.gettext(MSG_PRIVATE_ONLY))

    async def _language(self, chat: str, hint: str | None) -> str:
        return await asyncio.to_thread(chat_language, self.services, chat, hint)

    # --- sending -----------------------------------------------------------------------------

    async def send(self, message: OutboundMessage) -> SendResult:
        """sendMessage with the choices as inline buttons; provider errors become results."""
        try:
            chat_id = int(message.address)
        except ValueError:
            return SendResult(error_code="bad_address", permanent=True)
        markup = keyboard(self.signer, message)
        if markup is None:
            text = render_text(message)
        else:
            text = "\n".join(part for part in (message.text, message.hint) if part)
        try:
            sent = await self.bot.send_message(
                chat_id=chat_id, text=text[:MAX_TEXT], reply_markup=markup
            )
        except TelegramError as exc:
            result = result_for(exc)
            log.warning("telegram send failed: %s", result.error_code)
            return result
        return SendResult(
            provider_id=self._sent_id(message.address, sent.message_id),
            extra={"message_id": str(sent.message_id)},
        )

    def _sent_id(self, chat: str, message_id: int) -> str:
        """Telegram message ids repeat across chats; a keyed hash of the chat makes ours unique
        without storing the chat id in clear."""
        chat_key = self.services.vault.blind_index("telegram-sent", chat)[:16]
        return f"tg:{chat_key}:{message_id}"

    async def _send_text(
        self, chat: str, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> None:
        await self._quietly(
            self.bot.send_message(chat_id=int(chat), text=text, reply_markup=markup)
        )

    async def _quietly(self, call: Awaitable[Any]) -> None:
        """Best-effort calls (answers to taps, edits, notes): a failure is logged by type only."""
        try:
            await call
        except TelegramError as exc:
            log.info("telegram call failed: %s", type(exc).__name__)


def signing_key(services: Services) -> bytes:
    """The app's secret signs button data; the index key stands in when none is set."""
    secret = services.settings.secret_key
    return secret.encode("utf-8") if secret else services.vault.index_key

"""SMS through Twilio: signed webhooks in (replies as TwiML), the REST API out, statuses back."""

from __future__ import annotations

import asyncio
import base64
import functools
import hmac
import logging
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

import phonenumbers
from twilio.request_validator import RequestValidator, compare
from twilio.rest import Client

from bot.conversations import ReceiveResult, receive
from bot.outbox.delivery import queue_stored_replies, record_status
from bot.services import Services
from bot.sms.gsm7 import replace_lookalikes
from bot.sms.segments import MAX_BODY, count_segments, split_text
from connectors.base import (
    Capabilities,
    Connector,
    InboundMessage,
    OutboundMessage,
    SendResult,
    rejected,
    render_text,
)
from connectors.twilio_client import UNREACHABLE, build_client, result_from_error
from connectors.twilio_settings import TwilioSettings

if TYPE_CHECKING:  # the web app's types; a worker that only sends never imports them
    from fastapi import APIRouter
    from starlette.requests import Request
    from starlette.responses import Response

log = logging.getLogger(__name__)

CHANNEL = "sms"
INBOUND_PATH = "/webhooks/twilio/sms"
STATUS_PATH = "/webhooks/twilio/status"
#: Twilio's largest SMS form (1,600 characters, percent-encoded, plus ten media URLs) is
#: well under this; anything bigger is not from Twilio.
MAX_WEBHOOK_BODY = 32 * 1024
OPT_OUT_TYPES = frozenset({"STOP", "START", "HELP"})
FAILED_STATUSES = frozenset({"failed", "undelivered"})
TWIML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
TWIML_EMPTY = f"{TWIML_DECLARATION}<Response />"


class TwilioSmsConnector(Connector):
    """Holds a twilio `Client`; every webhook is authenticated before it is read."""

    name: ClassVar[str] = CHANNEL
    REDACT: ClassVar[tuple[str, ...]] = (
        "From",
        "To",
        "Body",
        "MediaUrl*",
        "X-Twilio-Signature",
        "TWILIO_AUTH_TOKEN",
    )
    capabilities: ClassVar[Capabilities] = Capabilities(
        buttons=False, max_length=MAX_BODY, reply_in_response=True
    )

    def __init__(
        self, services: Services, settings: TwilioSettings, *, client: Client | None = None
    ) -> None:
        self.services = services
        self.settings = settings
        self.client = client or build_client(settings)
        # The SDK imports its Messages resource on first use (~45 ms holding the GIL): at
        # start-up, not in the middle of the first send while webhooks wait.
        _ = self.client.messages
        self.validator = RequestValidator(settings.auth_token.get_secret_value())
        self.public_url = services.settings.public_url
        self._late: set[asyncio.Future[ReceiveResult]] = set()
        self._handing_over: set[asyncio.Task[int]] = set()

    # --- text ------------------------------------------------------------------------------

    def parts(self, message: OutboundMessage) -> list[str]:
        """The texts one message goes out as: choices as numbered lines, look-alikes swapped
        for GSM-7 (so a curly apostrophe does not double the price), at most 1,600 each."""
        text = render_text(message)
        if self.settings.smart_encoding:
            text = replace_lookalikes(text)
        return split_text(text, MAX_BODY)

    # --- outbound ----------------------------------------------------------------------------

    async def send(self, message: OutboundMessage) -> SendResult:
        provider_id: str | None = None
        segments = 0
        for part in self.parts(message):
            # The SDK is blocking: it runs in a thread, never on the event loop.
            result = await asyncio.to_thread(self._create, message.address, part)
            if not result.ok:
                return result
            provider_id = provider_id or result.provider_id
            segments += count_segments(part)
        return SendResult(provider_id=provider_id, extra={"segments": str(segments)})

    def _create(self, to: str, body: str) -> SendResult:
        sender = (
            {"messaging_service_sid": self.settings.messaging_service_sid}
            if self.settings.messaging_service_sid
            else {"from_": self.settings.from_number}
        )
        try:
            created = self.client.messages.create(
                to=to, body=body, status_callback=self.public_url + STATUS_PATH, **sender
            )
        except Exception as exc:
            # Twilio errors and timeouts become codes; anything else is re-raised.
            return result_from_error(exc)
        return SendResult(provider_id=str(created.sid))

    # --- webhooks ----------------------------------------------------------------------------

    def routes(self) -> APIRouter:
        # Plain Starlette routes: FastAPI's per-request dependency solving would only hand
        # over the Request, at a cost felt on the busiest path of all. FastAPI is imported
        # here, by the web app, not by a worker process that only sends.
        from fastapi import APIRouter

        router = APIRouter()
        router.add_route(INBOUND_PATH, self.inbound, methods=["POST"], include_in_schema=False)
        router.add_route(STATUS_PATH, self.status, methods=["POST"], include_in_schema=False)
        return router

    async def inbound(self, request: Request) -> Response:
        params = await self.verified_form(request)
        message = self.parse_inbound(params)
        replies = await self.reply_within_budget(message)
        from starlette.responses import Response

        return Response(self.twiml(replies), media_type="application/xml")

    async def status(self, request: Request) -> Response:
        params = await self.verified_form(request)
        await self.record_status(params)
        # Always 200: a status Twilio cannot place would otherwise be retried forever.
        from starlette.responses import Response

        return Response(status_code=200)

    async def verified_form(self, request: Request) -> dict[str, str]:
        """The form, only if Twilio signed it for our account; 413 / 403 otherwise."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_WEBHOOK_BODY:
            raise rejected(413, f"the body is over {MAX_WEBHOOK_BODY} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_WEBHOOK_BODY:
                raise rejected(413, f"the body is over {MAX_WEBHOOK_BODY} bytes")
        params = dict(parse_qsl(body.decode("latin-1"), keep_blank_values=True, errors="replace"))
        signature = request.headers.get("x-twilio-signature", "")
        url = self.public_url + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        if not signature or not self.signed(url, params, signature):
            raise rejected(403, "the request is not signed by Twilio")
        if not hmac.compare_digest(params.get("AccountSid", ""), self.settings.account_sid):
            raise rejected(403, "the request is for another Twilio account")
        return params

    def signed(self, url: str, params: dict[str, str], signature: str) -> bool:
        """Twilio's own check, done once for the usual request. The SDK's `validate` computes
        the signature for the URL both with and without its port, every time; Twilio signs the
        webhook URL as configured, which is one of the two, so that is tried first and the
        SDK's check (both forms) runs only when it fails."""
        if compare(self.signature(url, params), signature):
            return True
        return bool(self.validator.validate(url, params, signature))

    def signature(self, url: str, params: dict[str, str]) -> str:
        """What the SDK's `compute_signature` gives for a form of single values (a test holds
        the two equal): HMAC-SHA1 over the URL and each name and value in name order, base64.
        The SDK's own looks each value up through two AttributeErrors (for Flask's and
        Django's multi-dicts), which with twenty-odd fields was 3 % of a message's CPU."""
        payload = url + "".join(name + params[name] for name in sorted(params))
        digest = hmac.digest(self.validator.token, payload.encode("utf-8"), "sha1")
        return base64.b64encode(digest).decode("ascii")

    def parse_inbound(self, params: dict[str, str]) -> InboundMessage:
        sid = params.get("MessageSid") or params.get("SmsSid") or ""
        if not sid:
            raise rejected(400, "MessageSid: missing")
        opt_out = params.get("OptOutType", "").strip().upper()
        media = params.get("NumMedia", "0")
        return InboundMessage(
            channel=CHANNEL,
            address=normalise_number(params.get("From", "")),
            text=params.get("Body", ""),
            provider_id=sid,
            received_at=self.services.clock(),
            # Media is counted, never fetched or stored.
            media_count=int(media) if media.isdigit() else 0,
            provider_opt_out=(
                opt_out if self.settings.advanced_opt_out and opt_out in OPT_OUT_TYPES else None
            ),
        )

    async def reply_within_budget(self, message: InboundMessage) -> list[OutboundMessage]:
        """Replies for this response, or none if they take longer than the budget: those then
        go through the outbox when ready, so Twilio's timeout never loses them."""
        with self.services.database_turn_at_once() as now:
            if now:
                return list(self._receive(message).in_response)
        future = asyncio.ensure_future(self.services.run_database_work(self._receive, message))
        done, _ = await asyncio.wait({future}, timeout=self.settings.reply_budget_seconds)
        if future in done:
            return list(future.result().in_response)
        log.warning("twilio: reply over budget; it will go through the outbox")
        self._late.add(future)
        future.add_done_callback(self._hand_to_outbox)
        return []

    def _receive(self, message: InboundMessage) -> ReceiveResult:
        return receive(self.services, message, reply_inline=True, segments=self.segments)

    def segments(self, reply: OutboundMessage) -> int:
        """What a reply costs as SMS, split the way it is sent."""
        return sum(count_segments(part) for part in self.parts(reply))

    def _hand_to_outbox(self, future: asyncio.Future[ReceiveResult]) -> None:
        self._late.discard(future)
        if future.cancelled() or future.exception() is not None:
            log.error("twilio: a late reply failed; the message was rolled back")
            return
        ids = [r.message_id for r in future.result().in_response if r.message_id is not None]
        if not ids:
            return
        task = asyncio.ensure_future(asyncio.to_thread(queue_stored_replies, self.services, ids))
        self._handing_over.add(task)
        task.add_done_callback(self._handing_over.discard)

    def twiml(self, replies: list[OutboundMessage]) -> str:
        """The reply as TwiML, one <Message> per part, written as the SDK's MessagingResponse
        writes it (a test holds the two equal): its ElementTree builder cost about 3 % of a
        message's CPU, for a document that is only ever Messages."""
        bodies = [part for reply in replies for part in self.parts(reply)]
        if not bodies:
            return TWIML_EMPTY
        messages = "".join(f"<Message>{escape(body)}</Message>" for body in bodies)
        return f"{TWIML_DECLARATION}<Response>{messages}</Response>"

    async def record_status(self, params: dict[str, str]) -> None:
        sid = params.get("MessageSid", "")
        status = params.get("MessageStatus", "").lower()
        error_code = params.get("ErrorCode") or None
        reason = UNREACHABLE.get(error_code or "") if status in FAILED_STATUSES else None
        found = bool(sid) and await asyncio.to_thread(
            record_status,
            self.services,
            channel=CHANNEL,
            provider_id=sid,
            status=status,
            error_code=error_code,
            unreachable_reason=reason,
        )
        if not found:
            # The sid and status only: never the numbers or the body.
            log.info("twilio: status %s for an unknown message %s", status, sid[:34])


def normalise_number(raw: str) -> str:
    """A sender's number in E.164; 400 with the reason when it is not a phone number."""
    number, problem = _e164(raw.strip())
    if problem:
        raise rejected(400, f"From: {problem}")
    return number


@functools.lru_cache(maxsize=4096)
def _e164(raw: str) -> tuple[str, str]:
    """(number, "") or ("", what is wrong). Cached: a person writes from the same number
    again and again, and parsing one costs more than the signature check."""
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException as exc:
        return "", f"not a phone number ({exc.error_type})"
    if not phonenumbers.is_possible_number(number):
        return "", "not a possible phone number"
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)), ""


def twilio_connector(services: Services) -> TwilioSmsConnector | None:
    """The connector when TWILIO_* is set (a wrong value stops start-up), else None."""
    from connectors.twilio_settings import load_twilio_settings

    settings = load_twilio_settings()
    return None if settings is None else TwilioSmsConnector(services, settings)

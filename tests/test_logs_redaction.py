"""The redaction filter, as a table, and on every record of real conversations."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from bot.logs import JsonFormatter, RedactingFilter, Redactor, configure_logging, reset_logging
from bot.nlu.base import Parse
from bot.services import Services
from bot.web.app import create_app
from connectors.console import ConsoleConnector
from tests.conftest import TEST_ENCRYPTION_KEY, TEST_INDEX_KEY
from tests.privacy_support import ANSWERS, NAME, PHONE, PHRASE, secrets_in

CASES = [
    # (label, text, what must be gone, what must stay)
    ("e164", "sending to +15555550147 now", "+15555550147", "sending to"),
    ("e164 spaced", "to +1 555 555 0147.", "555 0147", "to "),
    ("us parens", "call (555) 555-0147 please", "555-0147", "please"),
    ("us dashes", "from 555-555-0147", "555-555-0147", "from"),
    ("us dots", "555.555.0147 texted", "555.555.0147", "texted"),
    ("hotline", "1-800-662-4357", "662-4357", ""),
    ("bare number", "number 5555550147 failed", "5555550147", "failed"),
    ("telegram chat id", "chat_id 987654321 blocked the bot", "987654321", "blocked"),
    ("telegram group id", "group -1001234567890", "1001234567890", "group"),
    ("email", "reply to robin.q+x@example.org", "robin.q", "reply to"),
    ("bearer", "Authorization: Bearer abc.DEF-ghi_123", "abc.DEF", "Authorization"),
    (
        "bot token in url",
        "POST https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/send",
        "AAHdqTcvCH1v",
        "api.telegram.org",
    ),
    ("fernet token", "value gAAAAABm1234abcdEFGHijklMNOPqrstUVWXyz", "gAAAAABm1234", "value"),
    ("encrypted token", "value gcm1:abcdefghijKLMNOPqrstuvwx", "abcdefghij", "value"),
    ("twilio auth token", "auth 0123456789abcdef0123456789abcdef", "0123456789abcdef", "auth"),
    ("stripe-like key", "key sk_live_4eC39HqLyjWDarjtT1zdp7dc", "4eC39HqLy", "key"),
    ("session token", "t=Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eA", "Zm9vYmFy", "t="),
    ("field body", "inbound body='I need help tonight' ok", "need help", "inbound"),
    ("field json", '{"Body": "hello there", "From": "+1555"}', "hello there", "Body"),
    ("field dict repr", "{'text': 'hola amigo', 'client_id': 'm1'}", "hola amigo", "client_id"),
    ("field name", "name=Robin step=safe_now", "Robin", "step=safe_now"),
    ("field signature", "X-Twilio-Signature: abc123=", "abc123", "X-Twilio"),
    ("harmless", "handoff 12 moved to step safe_now in 35 ms", "", "handoff 12 moved"),
    ("a date stays", "due 2026-03-02 15:00:00", "", "2026-03-02 15:00:00"),
]


@pytest.mark.parametrize(("label", "text", "gone", "kept"), CASES, ids=[c[0] for c in CASES])
def test_redactor_table(label: str, text: str, gone: str, kept: str) -> None:
    out = Redactor().text(text)
    if gone:
        assert gone not in out, out
    assert kept in out


def make_record(msg: str, args: object = None, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("bot.test", logging.INFO, __file__, 1, msg, args, None)  # type: ignore[arg-type]
    record.__dict__.update(extra)
    return record


def test_filter_redacts_args_mappings_and_declared_extra_fields() -> None:
    flt = RedactingFilter()
    record = make_record("sent %s to %s", ("hi", PHONE), address="anything at all", count=3)
    assert flt.filter(record) is True
    assert record.getMessage() == "sent hi to [phone]"
    assert record.address == "[redacted]" and record.count == 3  # type: ignore[attr-defined]

    mapping = make_record("%(text)s from %(who)s", {"text": "x", "who": "a@b.org"})
    flt.filter(mapping)
    assert mapping.getMessage() == "x from [email]"


def test_connector_redact_declarations_are_honoured() -> None:
    from connectors.base import Capabilities, Connector, OutboundMessage, SendResult

    class Pigeon(Connector):
        name = "pigeon"
        REDACT = ("leg_band",)
        capabilities = Capabilities()

        async def send(self, message: OutboundMessage) -> SendResult:
            return SendResult()

    assert Redactor().text("leg_band=XJ-42 landed") == "leg_band=[redacted] landed"


def test_exceptions_are_redacted_and_the_raw_exception_dropped() -> None:
    try:
        raise RuntimeError(f"provider refused {PHONE}")
    except RuntimeError:
        record = logging.LogRecord(
            "bot.test", logging.ERROR, __file__, 1, "failed", None, __import__("sys").exc_info()
        )
    RedactingFilter().filter(record)
    assert record.exc_info is None
    assert record.exc_text and PHONE not in record.exc_text and "[phone]" in record.exc_text


def test_json_lines_formatter() -> None:
    stream = io.StringIO()
    handler = configure_logging("json", stream=stream)
    try:
        logging.getLogger("bot.test").info("queued %s", PHONE, extra={"job": 7, "to": PHONE})
    finally:
        reset_logging()
    assert isinstance(handler.formatter, JsonFormatter)
    line = json.loads(stream.getvalue().strip())
    assert line["message"] == "queued [phone]" and line["level"] == "info"
    assert line["job"] == 7 and line["to"] == "[redacted]"


# --- every record of whole conversations ------------------------------------------------------


class ProviderError(RuntimeError):
    pass


class Exploding:
    """An understanding layer whose provider error quotes the number and a token, as SDKs do."""

    def parse(self, text: str, language: str) -> Parse:
        raise ProviderError(
            f"upstream said: the 'To' number {PHONE} is invalid (Authorization: Bearer "
            f"{TOKEN_IN_ERROR}); contact ops@example.org"
        )


TOKEN_IN_ERROR = "q8Zt3VbKx0LmN5pRs7Uw2Yc4Ae6Gi9Jk"


@pytest.fixture
def captured(
    caplog: pytest.LogCaptureFixture,
) -> Iterator[tuple[pytest.LogCaptureFixture, io.StringIO]]:
    stream = io.StringIO()
    configure_logging("json", level=logging.DEBUG, stream=stream)
    caplog.set_level(logging.DEBUG)  # the root logger: every library's debug records too
    # SQLAlchemy sets its own logger to WARN; open it up so statements and parameters show.
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")
    try:
        yield caplog, stream
    finally:
        reset_logging()


def everything_logged(caplog: pytest.LogCaptureFixture, stream: io.StringIO) -> str:
    parts = [caplog.text, stream.getvalue()]
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(str(vars(record)))
    return "\n".join(parts)


def assert_nothing_personal(text: str, *secrets: str) -> None:
    assert secrets_in(text) == []
    for secret in (TEST_ENCRYPTION_KEY, TEST_INDEX_KEY, *secrets):
        assert secret not in text


def test_web_chat_logs_nothing_personal(
    sqlite_services: Services, captured: tuple[pytest.LogCaptureFixture, io.StringIO]
) -> None:
    caplog, stream = captured
    app = create_app(sqlite_services)
    client = TestClient(app)
    token = client.post("/api/chat/session").json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    for i, text in enumerate((PHRASE, *ANSWERS, f"my number is {PHONE}")):
        response = client.post(
            "/api/chat/messages", json={"text": text, "client_id": f"c{i}"}, headers=headers
        )
        assert response.status_code == 200
    assert client.get("/api/chat/messages", headers=headers).status_code == 200
    bad = client.post(
        "/api/chat/messages",
        content=f"{NAME} {PHONE}",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert bad.status_code == 422

    sqlite_services.interpreter = Exploding()

    async def like_uvicorn(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        except Exception as exc:
            # What uvicorn logs; under our own name, because a server started by another test
            # may have set uvicorn's loggers not to propagate to the root (and so to caplog).
            logging.getLogger("tests.server").error("Exception in ASGI application", exc_info=exc)
            raise

    crashing = TestClient(like_uvicorn, raise_server_exceptions=False)
    response = crashing.post(
        "/api/chat/messages", json={"text": "hello again", "client_id": "boom"}, headers=headers
    )
    assert response.status_code == 500

    logged = everything_logged(caplog, stream)
    assert len(caplog.records) > 20  # the database's debug records and more were captured
    assert "Exception in ASGI application" in logged and "ProviderError" in logged
    assert_nothing_personal(logged, token, TOKEN_IN_ERROR, "ops@example.org")


def test_console_logs_nothing_personal(
    sqlite_services: Services, captured: tuple[pytest.LogCaptureFixture, io.StringIO]
) -> None:
    caplog, stream = captured
    out = io.StringIO()
    ConsoleConnector(sqlite_services, out=out).converse(
        [PHRASE, *ANSWERS], address=PHONE, language=None, prompt=False
    )
    assert "will reach out" in out.getvalue()
    assert caplog.records
    assert_nothing_personal(everything_logged(caplog, stream))


def test_decrypted_rows_from_the_database_debug_echo_are_dropped() -> None:
    record = logging.LogRecord(
        "sqlalchemy.engine.Engine", logging.DEBUG, __file__, 1, "Row %r", ((1, NAME),), None
    )
    RedactingFilter().filter(record)
    assert NAME not in record.getMessage()

"""A local HTTP server that speaks Twilio's Messages REST API, and fires signed status callbacks.

The real twilio SDK talks to it over HTTP (TWILIO_API_BASE), so tests run the production
code path. It records every request, can be told to fail, and refuses wrong credentials.
"""

from __future__ import annotations

import base64
import email.utils
import json
import re
import secrets
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

import httpx
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "a1" * 16
AUTH_TOKEN = "f" * 32
MESSAGING_SERVICE_SID = "MG" + "b2" * 16
FROM_NUMBER = "+15555550100"
_MESSAGES = re.compile(r"^/2010-04-01/Accounts/(AC[0-9a-f]{32})/Messages\.json$")


def sign(token: str, url: str, params: Mapping[str, str]) -> str:
    """The X-Twilio-Signature Twilio would send for this URL and form."""
    return str(RequestValidator(token).compute_signature(url, dict(params)))


def new_sid(prefix: str = "SM") -> str:
    return prefix + secrets.token_hex(16)


@dataclass(frozen=True)
class Failure:
    code: int
    status: int = 400
    message: str = "The request failed"


@dataclass(frozen=True)
class SentRequest:
    """One create-message call as the fake saw it."""

    account_sid: str
    form: dict[str, str]
    sid: str | None  # None when the fake answered with an error

    @property
    def to(self) -> str:
        return self.form.get("To", "")

    @property
    def body(self) -> str:
        return self.form.get("Body", "")


@dataclass
class FakeTwilio:
    """State shared with the handler thread; tests read `requests` and set failures."""

    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    requests: list[SentRequest] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)  # used up one per request
    fail_always: Failure | None = None
    callbacks: dict[str, str] = field(default_factory=dict)  # sid -> StatusCallback URL
    messages: dict[str, dict[str, str]] = field(default_factory=dict)  # sid -> form
    on_request: Callable[[SentRequest], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    base_url: str = ""

    def fail_next(self, code: int, *, status: int = 400, times: int = 1) -> None:
        with self.lock:
            self.failures.extend([Failure(code, status)] * times)

    @property
    def delivered(self) -> list[SentRequest]:
        """Requests the fake accepted (what would have reached a phone)."""
        with self.lock:
            return [r for r in self.requests if r.sid is not None]

    def fire_status(
        self,
        sid: str,
        status: str,
        *,
        error_code: str | None = None,
        url: str | None = None,
        token: str | None = None,
    ) -> httpx.Response:
        """POST a signed status callback for a message, as Twilio does after a send."""
        target = url or self.callbacks[sid]
        sent = self.messages.get(sid, {})
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "To": sent.get("To", "+12125550199"),
            "From": sent.get("From", FROM_NUMBER),
        }
        if sent.get("MessagingServiceSid"):
            params["MessagingServiceSid"] = sent["MessagingServiceSid"]
        if error_code:
            params["ErrorCode"] = error_code
        signature = sign(token or self.auth_token, target, params)
        return httpx.post(target, data=params, headers={"X-Twilio-Signature": signature})

    # --- what the handler calls ------------------------------------------------------------

    def create(self, account: str, form: dict[str, str]) -> tuple[int, dict[str, object]]:
        with self.lock:
            failure = self.failures.pop(0) if self.failures else self.fail_always
            if failure is not None:
                self.requests.append(SentRequest(account, form, None))
                return failure.status, _error(failure)
            sid = new_sid()
            self.requests.append(SentRequest(account, form, sid))
            self.messages[sid] = form
            if form.get("StatusCallback"):
                self.callbacks[sid] = form["StatusCallback"]
            request = self.requests[-1]
        if self.on_request is not None:
            self.on_request(request)
        return HTTPStatus.CREATED, _message(account, sid, form)


def _error(failure: Failure) -> dict[str, object]:
    return {
        "code": failure.code,
        "message": failure.message,
        "more_info": f"https://www.twilio.com/docs/errors/{failure.code}",
        "status": failure.status,
    }


def _message(account: str, sid: str, form: dict[str, str]) -> dict[str, object]:
    now = email.utils.formatdate(usegmt=True).replace("GMT", "+0000")
    service = form.get("MessagingServiceSid")
    return {
        "account_sid": account,
        "api_version": "2010-04-01",
        "body": form.get("Body", ""),
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": form.get("From"),
        "messaging_service_sid": service,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        # With a Messaging Service Twilio first answers "accepted", with a number "queued".
        "status": "accepted" if service and not form.get("From") else "queued",
        "subresource_uris": {
            "media": f"/2010-04-01/Accounts/{account}/Messages/{sid}/Media.json",
        },
        "to": form.get("To"),
        "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
    }


def _handler(fake: FakeTwilio) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return  # quiet: the test output is not a request log

        def _json(self, status: int, payload: Mapping[str, object]) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode()
            match = _MESSAGES.match(self.path)
            if match is None:
                self._json(404, _error(Failure(20404, 404, "The requested resource was not found")))
                return
            expected = base64.b64encode(f"{fake.account_sid}:{fake.auth_token}".encode()).decode()
            if (
                self.headers.get("Authorization") != f"Basic {expected}"
                or match.group(1) != fake.account_sid
            ):
                self._json(401, _error(Failure(20003, 401, "Authenticate")))
                return
            form = dict(parse_qsl(raw, keep_blank_values=True))
            status, payload = fake.create(match.group(1), form)
            self._json(status, payload)

    return Handler


@contextmanager
def running_fake(fake: FakeTwilio | None = None) -> Iterator[FakeTwilio]:
    """Serve the fake on 127.0.0.1 on a free port until the block ends."""
    fake = fake or FakeTwilio()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

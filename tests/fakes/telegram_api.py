"""A real local HTTP server that speaks the Telegram Bot API's wire format, for tests.

python-telegram-bot is pointed at it through `base_url`, so the real SDK code path runs:
form-encoded requests, `{"ok": true, "result": ...}` answers, and Telegram's error shapes.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

BOT_ID = 7000001
BOT_USER = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": "Doorway",
    "username": "doorway_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
#: Parameters PTB sends JSON-encoded; everything else (text!) is a plain string.
_JSON_PARAMS = frozenset(
    {
        "chat_id",
        "message_id",
        "reply_markup",
        "allowed_updates",
        "offset",
        "limit",
        "timeout",
        "show_alert",
        "drop_pending_updates",
        "cache_time",
        "max_connections",
    }
)
#: The longest a getUpdates call waits here, whatever timeout it asks for.
MAX_POLL_WAIT = 0.5


@dataclass
class Call:
    """One Bot API request the fake received."""

    method: str
    params: dict[str, Any]


@dataclass
class Failure:
    """An error to answer instead of success, as Telegram would send it."""

    status: int
    description: str
    retry_after: int | None = None
    times: int = 1


@dataclass
class FakeTelegram:
    token: str
    port: int = 0
    calls: list[Call] = field(default_factory=list)
    #: Chats that blocked the bot: sendMessage to them answers 403.
    blocked: set[int] = field(default_factory=set)
    failures: dict[str, list[Failure]] = field(default_factory=dict)
    updates: list[dict[str, Any]] = field(default_factory=list)
    webhook: dict[str, Any] | None = None
    _next_message_id: int = 100
    _lock: threading.Condition = field(default_factory=threading.Condition)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def sent_texts(self) -> list[str]:
        return [str(c.params["text"]) for c in self.calls_to("sendMessage")]

    def fail(
        self,
        method: str,
        status: int,
        description: str,
        *,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        with self._lock:
            self.failures.setdefault(method, []).append(
                Failure(status, description, retry_after, times)
            )

    def push_update(self, update: dict[str, Any]) -> None:
        with self._lock:
            self.updates.append(update)
            self._lock.notify_all()

    # --- answering ---------------------------------------------------------------------------

    def handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.calls.append(Call(method, params))
            queued = self.failures.get(method)
            if queued:
                failure = queued[0]
                failure.times -= 1
                if failure.times <= 0:
                    queued.pop(0)
                return failure.status, _error(failure)
            if method == "sendMessage" and params.get("chat_id") in self.blocked:
                return 403, _error(Failure(403, "Forbidden: bot was blocked by the user"))
        if method == "getUpdates":
            return 200, {"ok": True, "result": self._get_updates(params)}
        answer = self._answer(method, params)
        if answer is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        return 200, {"ok": True, "result": answer}

    def _answer(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method == "setWebhook":
            self.webhook = params
            return True
        if method == "deleteWebhook":
            self.webhook = None
            return True
        if method == "answerCallbackQuery":
            return True
        if method in ("sendMessage", "editMessageText", "editMessageReplyMarkup"):
            with self._lock:
                if method == "sendMessage":
                    self._next_message_id += 1
                    message_id = self._next_message_id
                else:
                    message_id = int(params.get("message_id", 0))
            message: dict[str, Any] = {
                "message_id": message_id,
                "date": int(time.time()),
                "chat": {"id": params.get("chat_id"), "type": "private"},
                "from": BOT_USER,
                "text": params.get("text", ""),
            }
            if params.get("reply_markup"):
                message["reply_markup"] = params["reply_markup"]
            return message
        return None

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        wait = min(float(params.get("timeout") or 0), MAX_POLL_WAIT)
        deadline = time.monotonic() + wait
        with self._lock:
            # Telegram forgets updates below the offset: they were confirmed.
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
            while not self.updates and time.monotonic() < deadline:
                self._lock.wait(deadline - time.monotonic())
            return list(self.updates)


def _error(failure: Failure) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ok": False,
        "error_code": failure.status,
        "description": failure.description,
    }
    if failure.retry_after is not None:
        body["parameters"] = {"retry_after": failure.retry_after}
    return body


def _decode(raw: bytes, content_type: str) -> dict[str, Any]:
    if not raw:
        return {}
    if content_type.startswith("application/json"):
        loaded = json.loads(raw)
        return loaded if isinstance(loaded, dict) else {}
    params: dict[str, Any] = {}
    for key, value in parse_qsl(raw.decode("utf-8"), keep_blank_values=True):
        params[key] = json.loads(value) if key in _JSON_PARAMS else value
    return params


@contextmanager
def telegram_api(token: str) -> Iterator[FakeTelegram]:
    """Serve the fake on 127.0.0.1 at a free port for the duration of the block."""
    fake = FakeTelegram(token=token)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            prefix = f"/bot{fake.token}/"
            if not self.path.startswith(prefix):
                status, body = 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            else:
                method = self.path[len(prefix) :].split("?")[0]
                params = _decode(raw, self.headers.get("Content-Type", ""))
                status, body = fake.handle(method, params)
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the request line holds the token

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

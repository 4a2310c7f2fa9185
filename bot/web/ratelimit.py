"""Per-IP rate limits for the web chat API: a 429 with Retry-After, other clients unaffected.

The client IP is the ASGI `client`: behind a reverse proxy, uvicorn's proxy-headers support
(`FORWARDED_ALLOW_IPS`) sets it from X-Forwarded-For, so nobody can spoof it with a header.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Receive, Scope, Send

from bot.ratelimit import RateLimiter, RateLimitSettings


@dataclass
class WebRateLimits:
    """The limiters by (method, path), sharing one clock (replaceable in tests)."""

    rules: dict[tuple[str, str], RateLimiter]
    clock: Callable[[], float] = field(default=time.monotonic)

    @classmethod
    def from_settings(cls, settings: RateLimitSettings) -> WebRateLimits:
        keys = settings.max_keys
        return cls(
            rules={
                ("POST", "/api/chat/session"): RateLimiter.per_minute(
                    settings.web_sessions_per_minute, max_keys=keys
                ),
                ("POST", "/api/chat/messages"): RateLimiter.per_minute(
                    settings.web_messages_per_minute, max_keys=keys
                ),
                ("GET", "/api/chat/messages"): RateLimiter.per_minute(
                    settings.web_history_per_minute, max_keys=keys
                ),
            }
        )

    def check(self, method: str, path: str, client: str) -> str | None:
        """None when allowed, else the Retry-After value in seconds."""
        limiter = self.rules.get((method, path.rstrip("/") or "/"))
        if limiter is None:
            return None
        now = self.clock()
        if limiter.allow(client, now):
            return None
        return limiter.retry_after_header(client, now)


class RateLimit:
    """ASGI middleware: counts before the body is read, so a flood costs us little."""

    def __init__(self, app: ASGIApp, limits: WebRateLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        host = str(client[0]) if client else "unknown"
        retry_after = self.limits.check(scope["method"], scope["path"], host)
        if retry_after is None:
            await self.app(scope, receive, send)
            return
        await _reply_429(send, retry_after)


async def _reply_429(send: Send, retry_after: str) -> None:
    body = json.dumps(
        {
            "error": "too_many_requests",
            "reason": f"too many requests from this address; try again in {retry_after} s",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", retry_after.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

"""In-process token buckets keyed by string, with an injected clock and bounded memory."""

from __future__ import annotations

import datetime as dt
import enum
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.i18n import N_

#: The one short note a flooding address gets; the crisis lines stay in it on purpose.
MSG_SLOW_DOWN = N_(
    "I got several messages at once. Please give me a minute before writing again. "
    "If this is an emergency, call {emergency}."
)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """A token bucket per key: `burst` requests at once, refilled at `rate` per second.

    Memory is bounded: past `max_keys` the least recently seen key is forgotten, which only
    ever gives that key a fresh (full) bucket, never blocks anyone. Thread-safe, because sync
    endpoints and `receive()` run in worker threads.
    """

    def __init__(self, *, rate: float, burst: int, max_keys: int = 10_000) -> None:
        if rate <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("rate must be > 0, burst >= 1 and max_keys >= 1")
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def per_minute(cls, count: int, *, max_keys: int = 10_000) -> RateLimiter:
        """`count` requests a minute, all of which may come at once."""
        return cls(rate=count / 60.0, burst=count, max_keys=max_keys)

    def __len__(self) -> int:
        return len(self._buckets)

    def _refilled(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = _Bucket(tokens=float(self.burst), updated=now)
            self._buckets[key] = bucket
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            # A clock that goes backwards (tests, NTP) must not mint tokens.
            elapsed = max(0.0, now - bucket.updated)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
            bucket.updated = max(bucket.updated, now)
        return bucket

    def allow(self, key: str, now: float) -> bool:
        """Take one token for `key` if there is one."""
        with self._lock:
            bucket = self._refilled(key, now)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return True
            return False

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until `key` has a token again (0 when it has one now)."""
        with self._lock:
            bucket = self._refilled(key, now)
            return max(0.0, (1.0 - bucket.tokens) / self.rate)

    def retry_after_header(self, key: str, now: float) -> str:
        """The Retry-After value: whole seconds, at least 1."""
        return str(max(1, math.ceil(self.retry_after(key, now))))


class Verdict(enum.Enum):
    """What to do with one inbound message from one address."""

    ANSWER = "answer"  # within the limit: handle as usual
    NOTE = "note"  # first message over the limit: store it, reply once with MSG_SLOW_DOWN
    QUIET = "quiet"  # still over the limit: store it, do not answer


class InboundLimiter:
    """Per-address limit for inbound messages, so one flooding address is slowed, not the
    service. Keyed by the identity's id (never the address itself, which must not sit in
    memory in clear). A crisis message must bypass it: callers check for crisis first.
    """

    def __init__(self, *, per_minute: int = 20, max_keys: int = 100_000) -> None:
        self.limiter = RateLimiter.per_minute(per_minute, max_keys=max_keys)
        #: Keys that already got the note in the current flood; cleared when they are let in.
        self._noted: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, identity_id: int | str, now: dt.datetime) -> Verdict:
        key = str(identity_id)
        allowed = self.limiter.allow(key, now.timestamp())
        with self._lock:
            if allowed:
                self._noted.pop(key, None)
                return Verdict.ANSWER
            if key in self._noted:
                return Verdict.QUIET
            self._noted[key] = None
            while len(self._noted) > self.limiter.max_keys:
                self._noted.popitem(last=False)
            return Verdict.NOTE


class RateLimitSettings(BaseSettings):
    """Limits, per minute; generous defaults for a demo, tighten them for a public number."""

    model_config = SettingsConfigDict(
        env_prefix="DOORWAY_RATELIMIT_", env_file=".env", extra="ignore", env_file_encoding="utf-8"
    )

    #: Web chat messages posted, per client IP.
    web_messages_per_minute: int = Field(default=60, ge=1)
    #: Web chat history reads (page reloads), per client IP.
    web_history_per_minute: int = Field(default=120, ge=1)
    #: New web chat sessions, per client IP.
    web_sessions_per_minute: int = Field(default=10, ge=1)
    #: Inbound messages per address (any channel) before replies pause.
    inbound_per_minute: int = Field(default=20, ge=1)
    #: How many keys each limiter remembers (the least recent are forgotten).
    max_keys: int = Field(default=10_000, ge=100)

    def inbound_limiter(self) -> InboundLimiter:
        return InboundLimiter(per_minute=self.inbound_per_minute, max_keys=self.max_keys * 10)

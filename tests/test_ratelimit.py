"""Token buckets, the per-address inbound limiter and the per-IP web chat limits."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from bot.ratelimit import InboundLimiter, RateLimiter, RateLimitSettings, Verdict
from bot.services import Services
from bot.web.app import create_app


def test_bucket_allows_a_burst_then_refills() -> None:
    limiter = RateLimiter(rate=1.0, burst=3)
    assert [limiter.allow("a", 0.0) for _ in range(4)] == [True, True, True, False]
    assert limiter.retry_after("a", 0.0) == pytest.approx(1.0)
    assert limiter.retry_after_header("a", 0.0) == "1"
    assert limiter.allow("b", 0.0)  # another key has its own bucket
    assert not limiter.allow("a", 0.5)
    assert limiter.allow("a", 1.6)
    assert limiter.retry_after("a", 100.0) == 0.0


def test_a_clock_going_backwards_mints_nothing() -> None:
    limiter = RateLimiter(rate=1.0, burst=1)
    assert limiter.allow("a", 10.0)
    assert not limiter.allow("a", 5.0)
    assert not limiter.allow("a", 10.5)


def test_memory_is_bounded_and_the_least_recent_key_goes() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, max_keys=3)
    for key in ("a", "b", "c"):
        limiter.allow(key, 0.0)
    limiter.allow("a", 0.0)  # a is recent again
    limiter.allow("d", 0.0)
    assert len(limiter) == 3
    assert limiter.allow("b", 0.0)  # b was forgotten: a fresh bucket
    assert not limiter.allow("a", 0.0)  # a was kept, still empty


@pytest.mark.parametrize(
    ("rate", "burst", "keys"), [(0, 1, 1), (1, 0, 1), (1, 1, 0)], ids=["rate", "burst", "keys"]
)
def test_bad_limits_are_refused(rate: float, burst: int, keys: int) -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate=rate, burst=burst, max_keys=keys)


def test_inbound_flood_gets_one_note_then_quiet_then_answers_again() -> None:
    limiter = InboundLimiter(per_minute=3)
    start = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
    verdicts = [limiter.check(7, start) for _ in range(6)]
    assert verdicts == [Verdict.ANSWER] * 3 + [Verdict.NOTE] + [Verdict.QUIET] * 2
    assert limiter.check(8, start) is Verdict.ANSWER  # other people are not slowed
    later = start + dt.timedelta(seconds=25)
    assert limiter.check(7, later) is Verdict.ANSWER
    assert limiter.check(7, later) is Verdict.NOTE  # a new flood gets a new note


def test_settings_have_generous_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DOORWAY_RATELIMIT_WEB_MESSAGES_PER_MINUTE", raising=False)
    settings = RateLimitSettings()
    assert settings.web_messages_per_minute == 60 and settings.web_sessions_per_minute == 10
    assert isinstance(settings.inbound_limiter(), InboundLimiter)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_web_chat_limits_per_ip_with_retry_after(
    sqlite_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOORWAY_RATELIMIT_WEB_SESSIONS_PER_MINUTE", "2")
    monkeypatch.setenv("DOORWAY_RATELIMIT_WEB_MESSAGES_PER_MINUTE", "3")
    app = create_app(sqlite_services)
    clock = Clock()
    app.state.rate_limits.clock = clock
    flooder = TestClient(app, client=("203.0.113.5", 40000))
    neighbour = TestClient(app, client=("198.51.100.7", 40000))

    assert [flooder.post("/api/chat/session").status_code for _ in range(3)] == [200, 200, 429]
    token = neighbour.post("/api/chat/session").json()["token"]  # another IP is unaffected
    headers = {"Authorization": f"Bearer {token}"}

    def post(client: TestClient, i: int) -> int:
        body = {"text": "hi", "client_id": f"m{i}"}
        return client.post("/api/chat/messages", json=body, headers=headers).status_code

    assert [post(flooder, i) for i in range(4)] == [200, 200, 200, 429]
    refused = flooder.post("/api/chat/messages", json={"text": "x", "client_id": "z"})
    assert refused.status_code == 429
    assert refused.json()["error"] == "too_many_requests"
    assert int(refused.headers["retry-after"]) == 20  # one message every 20 s at 3 a minute
    assert refused.headers["x-content-type-options"] == "nosniff"  # still the secure headers
    assert post(neighbour, 10) == 200
    assert flooder.get("/healthz").status_code == 200  # only the chat endpoints are limited

    clock.now += 21
    assert post(flooder, 11) == 200

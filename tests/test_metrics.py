"""/metrics: counters after commit only, scrape-time outbox gauges, no personal data, and
the in-flight bound that answers 503 + Retry-After before reading a webhook."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from starlette.types import Receive, Scope, Send

from bot import metrics
from bot.conversations import receive
from bot.db import transaction
from bot.events import record
from bot.services import Services
from bot.web.app import create_app
from connectors.base import InboundMessage
from connectors.twilio_sms import INBOUND_PATH
from tests.fakes.twilio_api import running_fake
from tests.fakes.twilio_app import attach

ADDRESS = "+12125550188"  # fictional


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(client: TestClient, name: str, **labels: str) -> float:
    return samples(client.get("/metrics").text).get((name, tuple(sorted(labels.items()))), 0.0)


def inbound(text: str, number: int) -> InboundMessage:
    return InboundMessage(
        channel="sms",
        address=ADDRESS,
        text=text,
        provider_id=f"SM{number:032x}",
        received_at=dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC),
    )


def test_inbound_and_crisis_are_counted_once_committed(sqlite_services: Services) -> None:
    with TestClient(create_app(sqlite_services)) as client:
        handled = value(client, "doorway_inbound_messages_total", channel="sms", status="handled")
        dupes = value(client, "doorway_inbound_messages_total", channel="sms", status="duplicate")
        crisis = value(client, "doorway_crisis_events_total", kind="overdose")
        receive(sqlite_services, inbound("hi", 1), reply_inline=True)
        receive(sqlite_services, inbound("hi", 1), reply_inline=True)  # a provider retry
        receive(
            sqlite_services,
            inbound("my friend overdosed and is not breathing", 2),
            reply_inline=True,
        )
        # An event in a transaction that rolls back is never counted.
        try:
            with transaction(sqlite_services.sessions) as session:
                record(session, "crisis_detected", sqlite_services.clock(), kind="overdose")
                session.flush()
                raise RuntimeError("roll back")
        except RuntimeError:
            pass
        text = client.get("/metrics").text
        assert (
            value(client, "doorway_inbound_messages_total", channel="sms", status="handled")
            == handled + 2
        )
        assert (
            value(client, "doorway_inbound_messages_total", channel="sms", status="duplicate")
            == dupes + 1
        )
        assert value(client, "doorway_crisis_events_total", kind="overdose") == crisis + 1
    assert ADDRESS not in text and "overdosed" not in text  # labels carry no personal data


#: A crisis event recorded before a savepoint and one inside it; what happens to the savepoint
#: and to the transaction; how many of the two /metrics counts.
SAVEPOINT_CASES = [
    ("released", "committed", 2),
    ("rolled back", "committed", 1),
    ("released", "rolled back", 0),
    ("rolled back", "rolled back", 0),
]


class RollBack(Exception):
    pass


@pytest.mark.parametrize(("savepoint", "outcome", "counted"), SAVEPOINT_CASES)
def test_events_in_a_savepoint_are_counted_only_if_both_commit(
    services: Services, savepoint: str, outcome: str, counted: int
) -> None:
    """A savepoint's release is not a commit, and its rollback forgets only its own events."""
    metrics.count_committed_events(services.sessions)
    crisis = (
        metrics.REGISTRY.get_sample_value("doorway_crisis_events_total", {"kind": "overdose"})
        or 0.0
    )
    now = services.clock()
    with contextlib.suppress(RollBack), transaction(services.sessions) as session:
        record(session, "crisis_detected", now, kind="overdose")
        with contextlib.suppress(RollBack), session.begin_nested():
            record(session, "crisis_detected", now, kind="overdose")
            if savepoint == "rolled back":
                raise RollBack
        record(session, "intake_started", now)  # not counted: only crisis and opt-out are
        if outcome == "rolled back":
            raise RollBack
    after = metrics.REGISTRY.get_sample_value("doorway_crisis_events_total", {"kind": "overdose"})
    assert (after or 0.0) - crisis == counted


def test_scrape_reports_outbox_depth_and_handoff_histogram(sqlite_services: Services) -> None:
    sqlite_services.clock.advance(minutes=5)  # type: ignore[attr-defined]
    with TestClient(create_app(sqlite_services)) as client:
        before = value(client, "doorway_handoff_accept_seconds_count")
        metrics.handoff_accepted(90.0)
        found = samples(client.get("/metrics").text)
        assert found[("doorway_outbox_due_jobs", ())] == 0.0
        assert found[("doorway_outbox_lag_seconds", ())] == 0.0
        assert found[("doorway_database_up", ())] == 1.0
        assert found[("doorway_handoff_accept_seconds_count", ())] == before + 1


def test_webhook_latency_is_labelled_by_route_only(sqlite_services: Services) -> None:
    def counts(client: TestClient) -> dict[tuple[str | None, str | None], float]:
        return {
            (dict(labels).get("endpoint"), dict(labels).get("status")): count
            for (name, labels), count in samples(client.get("/metrics").text).items()
            if name == "doorway_webhook_seconds_count"
        }

    with running_fake() as fake:
        connector = attach(sqlite_services, fake, "https://doorway.example.org")
        app = create_app(sqlite_services, [connector])
        with TestClient(app) as client:
            before = counts(client)
            client.post("/webhooks/no-such-thing/+12125550188")
            client.post(INBOUND_PATH, data={"Body": "hi"})  # unsigned: 403, still timed
            after = counts(client)
    added = {key: after[key] - before.get(key, 0.0) for key in after}
    # A known route is its own series (SMS and Telegram latency apart); a scanner's path
    # never becomes a label value.
    assert {key: n for key, n in added.items() if n} == {
        ("other", "404"): 1,
        (INBOUND_PATH, "403"): 1,
    }
    assert not any("no-such-thing" in str(endpoint) for endpoint, _ in after)


def test_webhooks_over_the_limit_get_503_without_their_body_being_read() -> None:
    read: list[bytes] = []
    release = asyncio.Event()
    started = asyncio.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        message = await receive()
        read.append(message.get("body", b""))
        started.set()
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    guard = metrics.WebhookGuard(app, max_in_flight=1, endpoints=frozenset({"/webhooks/x"}))

    async def scenario() -> tuple[int, int, str | None]:
        transport = httpx.ASGITransport(app=guard)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            first = asyncio.create_task(client.post("/webhooks/x", content=b"first"))
            await started.wait()
            second = await client.post("/webhooks/x", content=b"second")
            release.set()
            return (await first).status_code, second.status_code, second.headers.get("retry-after")

    assert asyncio.run(scenario()) == (200, 503, "1")
    assert read == [b"first"]  # the refused one was never read, so never half-processed
    assert guard.in_flight == 0

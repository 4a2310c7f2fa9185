"""Prometheus metrics: counters the hot paths bump, scrape-time outbox gauges, `/metrics`.

Labels are only ever channel, status or kind: never an address, a name or a body.

Each process counts for itself. Under `doorway serve --workers N` the server processes share
one `PROMETHEUS_MULTIPROC_DIR` (set by the CLI before forking), so any of them answers a
scrape with the sum of all; a separate `doorway worker` process keeps its own counters.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from bot.events import RECORDED
from bot.metrics_folder import MULTIPROC_ENV
from bot.models import OutboxJob

if TYPE_CHECKING:  # only the web app needs these; the worker and the CLI count without them
    from fastapi import APIRouter
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ServerSettings(BaseSettings):
    """How much webhook work one server process takes on before answering 503."""

    model_config = SettingsConfigDict(
        env_prefix="DOORWAY_", env_file=".env", extra="ignore", env_file_encoding="utf-8"
    )

    #: Webhooks handled at once per process; the rest get 503 + Retry-After. At ~500
    #: messages a second this is about half a second of queue, far inside Twilio's 15 s.
    max_in_flight: int = Field(default=256, ge=1)


#: The registry the hot paths write to. Not prometheus-client's default one, so importing
#: this module twice (tests) or a library registering its own metrics cannot collide.
REGISTRY = CollectorRegistry(auto_describe=True)

_INBOUND = Counter(
    "doorway_inbound_messages",
    "Inbound messages handled, by channel and status (handled, duplicate).",
    ["channel", "status"],
    registry=REGISTRY,
)
_OUTBOUND = Counter(
    "doorway_outbound_messages",
    "Outbox jobs processed, by channel and outcome (sent, retry, failed, cancelled, ...).",
    ["channel", "status"],
    registry=REGISTRY,
)
_WEBHOOK_SECONDS = Histogram(
    "doorway_webhook_seconds",
    "Time to answer a webhook, from the first byte in to the response, by endpoint.",
    ["endpoint", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0),
    registry=REGISTRY,
)
_OVERLOAD = Counter(
    "doorway_webhook_overload",
    "Webhooks answered 503 + Retry-After because too many were in flight, by endpoint.",
    ["endpoint"],
    registry=REGISTRY,
)
_HANDOFF_ACCEPT_SECONDS = Histogram(
    "doorway_handoff_accept_seconds",
    "Time from a handoff request to a responder accepting it.",
    buckets=(30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400),
    registry=REGISTRY,
)
_CRISIS = Counter(
    "doorway_crisis_events",
    "Crisis messages detected, by kind (overdose, suicide, ...).",
    ["kind"],
    registry=REGISTRY,
)
_OPT_OUTS = Counter(
    "doorway_opt_outs", "Opt-outs recorded, by how (keyword, nlu, ...).", ["via"], registry=REGISTRY
)

#: `session.info` key: how many events were recorded when each open savepoint began.
_SAVEPOINT_MARKS = "doorway.savepoint_marks"

#: Event kinds counted once their transaction commits, and how each one is counted.
_EVENT_COUNTERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "crisis_detected": lambda data: _CRISIS.labels(kind=_label(data.get("kind"))).inc(),
    "opt_out": lambda data: _OPT_OUTS.labels(via=_label(data.get("via"))).inc(),
}


def _label(value: object) -> str:
    # Only short code-like values ever become labels; anything else is "other".
    text = str(value) if value is not None else "unknown"
    return text if len(text) <= 32 and text.replace("_", "").isalnum() else "other"


# --- what the hot paths call ------------------------------------------------------------------


def inbound(channel: str, status: str) -> None:
    _INBOUND.labels(channel=_label(channel), status=_label(status)).inc()


def outbound(channel: str | None, status: str) -> str:
    """Count one processed outbox job; returns `status` so a call site stays one line."""
    _OUTBOUND.labels(channel=_label(channel or "none"), status=_label(status)).inc()
    return status


def handoff_accepted(seconds: float) -> None:
    """For the handoff engine: time from request to acceptance."""
    _HANDOFF_ACCEPT_SECONDS.observe(max(0.0, seconds))


def webhook_latency(endpoint: str, status: int, seconds: float) -> None:
    _WEBHOOK_SECONDS.labels(endpoint=endpoint, status=str(status)).observe(seconds)


def overloaded(endpoint: str) -> None:
    _OVERLOAD.labels(endpoint=endpoint).inc()


def count_committed_events(sessions: sessionmaker[Session]) -> None:
    """Count crisis events and opt-outs when (and only when) their transaction commits, so a
    rolled-back or retried message is never counted, wherever the event was recorded.

    SQLAlchemy signals a savepoint's release as `after_commit` and its rollback as
    `after_rollback`: a released savepoint's events wait for the outer commit, and a rolled-back
    one forgets only what was recorded since it began.
    """
    if getattr(sessions, "_doorway_metrics", False):
        return
    sessions._doorway_metrics = True  # type: ignore[attr-defined]

    @event.listens_for(sessions, "after_transaction_create")
    def _mark(session: Session, transaction: SessionTransaction) -> None:
        if transaction.nested:
            recorded = len(session.info.get(RECORDED, ()))
            session.info.setdefault(_SAVEPOINT_MARKS, {})[transaction] = recorded

    @event.listens_for(sessions, "after_commit")
    def _count(session: Session) -> None:
        if session.in_nested_transaction():
            return  # a savepoint released: its events wait for the outer commit
        for kind, facts in session.info.pop(RECORDED, ()):
            counter = _EVENT_COUNTERS.get(kind)
            if counter is not None:
                counter(facts)

    @event.listens_for(sessions, "after_rollback")
    def _forget(session: Session) -> None:
        savepoint = session.get_nested_transaction()
        if savepoint is None:
            session.info.pop(RECORDED, None)
            return
        mark = session.info.get(_SAVEPOINT_MARKS, {}).get(savepoint, 0)
        del session.info.get(RECORDED, [])[mark:]

    @event.listens_for(sessions, "after_transaction_end")
    def _unmark(session: Session, transaction: SessionTransaction) -> None:
        if transaction.nested:
            session.info.get(_SAVEPOINT_MARKS, {}).pop(transaction, None)


# --- scrape-time gauges -----------------------------------------------------------------------


class OutboxCollector(Collector):
    """Queue depth and lag of the outbox, read with one indexed query at scrape time, and
    whether that read worked."""

    def __init__(self, sessions: sessionmaker[Session], clock: Callable[[], dt.datetime]) -> None:
        self.sessions = sessions
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self.clock()
        depth = GaugeMetricFamily(
            "doorway_outbox_due_jobs", "Outbox jobs due now and not yet taken by a worker."
        )
        lag = GaugeMetricFamily(
            "doorway_outbox_lag_seconds", "How long the oldest due outbox job has been waiting."
        )
        up = GaugeMetricFamily(
            "doorway_database_up", "1 when the scrape could read the database, 0 when it could not."
        )
        try:
            with self.sessions() as session:
                count, oldest = session.execute(
                    select(func.count(), func.min(OutboxJob.due_at)).where(
                        OutboxJob.status == "pending", OutboxJob.due_at <= now
                    )
                ).one()
        except OperationalError:
            # The counters are what an operator needs most while the database is down: the
            # scrape still answers, without the two figures it could not read.
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        depth.add_metric([], float(count or 0))
        lag.add_metric([], _seconds_since(oldest, now))
        yield depth
        yield lag
        yield up


def _seconds_since(oldest: dt.datetime | None, now: dt.datetime) -> float:
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:  # SQLite hands naive UTC back
        oldest = oldest.replace(tzinfo=dt.UTC)
    return max(0.0, (now - oldest).total_seconds())


def exposition(extra: Iterable[Collector] = ()) -> bytes:
    """The text format: this process's registry, or all processes' in multiprocess mode."""
    registry: CollectorRegistry
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    output = generate_latest(registry)
    if extra:
        scrape = CollectorRegistry(auto_describe=False)
        for collector in extra:
            scrape.register(collector)
        output += generate_latest(scrape)
    return output


def router(sessions: sessionmaker[Session], clock: Callable[[], dt.datetime]) -> APIRouter:
    """`GET /metrics`; meant for the private network (put it behind the proxy's allow-list)."""
    from fastapi import APIRouter
    from starlette.responses import Response

    routes = APIRouter()
    outbox = OutboxCollector(sessions, clock)

    def metrics(_request: Request) -> Response:
        return Response(exposition([outbox]), media_type=CONTENT_TYPE_LATEST)

    routes.add_route("/metrics", metrics, methods=["GET"], include_in_schema=False)
    return routes


# --- webhook latency and the in-flight bound ----------------------------------------------------


class WebhookGuard:
    """ASGI middleware for `/webhooks/...`: times each webhook, and past `max_in_flight`
    answers 503 + Retry-After *before reading the body*, so an overloaded server queues a
    bounded amount of work and every message beyond it is retried by the provider, never
    half-processed (Twilio and Telegram both retry a 5xx)."""

    PREFIX = "/webhooks/"

    def __init__(
        self, app: ASGIApp, *, max_in_flight: int, endpoints: frozenset[str], retry_after: int = 1
    ) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.endpoints = endpoints
        self.retry_after = str(retry_after)
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith(self.PREFIX):
            await self.app(scope, receive, send)
            return
        # Only known routes become label values: a scanner's random paths must not.
        endpoint = path if path in self.endpoints else "other"
        if self.in_flight >= self.max_in_flight:
            overloaded(endpoint)
            await _reply_503(send, self.retry_after)
            return
        started = time.perf_counter()
        status = 500
        self.in_flight += 1

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.in_flight -= 1
            webhook_latency(endpoint, status, time.perf_counter() - started)


async def _reply_503(send: Send, retry_after: str) -> None:
    body = b'{"error":"service_unavailable","reason":"busy; retry shortly"}'
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", retry_after.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

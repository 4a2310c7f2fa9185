"""The FastAPI application: connectors' routes, health checks and the safety middlewares."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from http import HTTPStatus
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot import metrics
from bot.console.routes import create_console
from bot.followup import api as followup_api
from bot.outbox import BackgroundWorker
from bot.ratelimit import RateLimitSettings
from bot.services import Services
from bot.wal_checkpoints import WalCheckpointer
from bot.web import health, invites
from bot.web.database_down import answered_unavailable
from bot.web.limits import BodyLimit
from bot.web.openapi import document_errors
from bot.web.ratelimit import RateLimit, WebRateLimits
from bot.web.security import SecureHeaders
from connectors.base import Connector

HERE = Path(__file__).resolve().parent


def templates() -> Jinja2Templates:
    return Jinja2Templates(directory=str(HERE / "templates"))


#: FastAPI's own OpenTelemetry, on by default: with any provider an operator's environment
#: configures it would record every request and the messages and stack traces of unhandled
#: exceptions, outside the redaction of Doorway's own logs (a person's words can be in an
#: exception's message); and its check on every request cost about 0.6 % of a message's CPU.
#: Doorway's metrics are Prometheus's, at /metrics.
NO_FASTAPI_TELEMETRY: TelemetryConfig = {
    "tracing": False,
    "metrics": False,
    "logs": False,
    "operation_spans": False,
    "auto_configure": False,
}


def create_app(
    services: Services,
    connectors: list[Connector] | None = None,
    *,
    worker: BackgroundWorker | None = None,
) -> FastAPI:
    """Build the app around one services object; each connector mounts its own routes.

    With `worker`, the outbox worker runs for the app's lifetime (one process on SQLite).
    On SQLite a thread copies the write-ahead log back for the app's lifetime, so commits
    on the event loop never do (`bot.wal_checkpoints`).
    """
    from connectors.web_chat import WebChatConnector

    checkpoints = (
        WalCheckpointer(services.engine) if services.engine.dialect.name == "sqlite" else None
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as running:
            if checkpoints is not None:
                checkpoints.start()
                # Its last checkpoint waits for the writer lock: never on the event loop.
                running.push_async_callback(asyncio.to_thread, checkpoints.stop)
            if worker is not None:
                await worker.start()
                running.push_async_callback(worker.stop)
            yield

    app = FastAPI(
        title="Doorway",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        telemetry=NO_FASTAPI_TELEMETRY,
    )
    app.state.services = services
    chosen = connectors if connectors is not None else [WebChatConnector(services)]
    app.state.connectors = {c.name: c for c in chosen}
    # The webhook routes, read off the connectors' own routers: FastAPI's app.routes holds an
    # included router as one opaque entry, not its paths.
    webhooks: set[str] = set()
    for connector in chosen:
        router = connector.routes()
        if router is not None:
            webhooks.update(
                path
                for route in router.routes
                if (path := getattr(route, "path", "")).startswith(metrics.WebhookGuard.PREFIX)
            )
            app.include_router(router)
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        reason = f"{where}: {first.get('msg', 'invalid')}" if where else first.get("msg", "invalid")
        return JSONResponse(status_code=422, content={"error": "invalid", "reason": reason})

    @app.exception_handler(OperationalError)
    async def _database_unavailable(_request: Request, exc: OperationalError) -> JSONResponse:
        return JSONResponse(
            status_code=503,
            content={
                "error": "service_unavailable",
                "reason": "the database cannot be reached; try again shortly",
            },
            headers=answered_unavailable(exc),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        """Every error is JSON with a reason a client developer can act on."""
        error = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")
        return JSONResponse(
            status_code=exc.status_code,
            content={"error": error, "reason": str(exc.detail)},
            headers=getattr(exc, "headers", None),
        )

    app.include_router(health.router())
    app.include_router(invites.router())
    app.include_router(followup_api.router)
    app.mount("/console", create_console(services, templates()))
    app.include_router(metrics.router(services.read_sessions, services.clock))
    metrics.count_committed_events(services.sessions)

    app.state.rate_limits = WebRateLimits.from_settings(RateLimitSettings())
    app.add_middleware(RateLimit, limits=app.state.rate_limits)
    document_errors(app, rate_limited=app.state.rate_limits.rules)
    app.add_middleware(SecureHeaders)
    app.add_middleware(BodyLimit)
    app.add_middleware(
        metrics.WebhookGuard,
        max_in_flight=metrics.ServerSettings().max_in_flight,
        endpoints=frozenset(webhooks),
    )
    return app

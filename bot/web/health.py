"""`/healthz` (the process answers) and `/readyz` (database, migrations and channels)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from bot.db import is_current, reading
from bot.services import Services

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"


def check_database(services: Services) -> tuple[bool, str]:
    try:
        with reading(services.engine) as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        # The type only: a driver's message can carry the URL with its password.
        return False, f"unreachable ({type(exc).__name__})"
    return True, "ok"


def check_migrations(services: Services) -> tuple[bool, str]:
    try:
        current = is_current(services.engine)
    except Exception as exc:
        return False, f"unknown ({type(exc).__name__})"
    return (True, "ok") if current else (False, "behind: run `doorway db upgrade`")


def check_channels(configured: dict[str, bool], mounted: set[str]) -> tuple[bool, str]:
    """Every channel whose credentials are set must be mounted; at least one must be."""
    missing = sorted(name for name, wanted in configured.items() if wanted and name not in mounted)
    if missing:
        return False, f"configured but not running: {', '.join(missing)}"
    if not mounted:
        return False, "no channel"
    return True, ", ".join(sorted(mounted))


def configured_channels() -> dict[str, bool]:
    """Which optional channels have credentials in the environment."""
    import os

    from connectors.twilio_settings import sms_configured

    return {"sms": sms_configured(), "telegram": bool(os.environ.get("TELEGRAM_BOT_TOKEN"))}


def router(configured: Callable[[], dict[str, bool]] = configured_channels) -> APIRouter:
    routes = APIRouter()

    @routes.get(HEALTH_PATH, include_in_schema=False)
    def healthz() -> dict[str, str]:
        # Liveness only: no database, so a slow database never gets the process restarted.
        return {"status": "ok"}

    @routes.get(READY_PATH, include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        services: Services = request.app.state.services
        mounted = set(getattr(request.app.state, "connectors", {}))
        database = await asyncio.to_thread(check_database, services)
        migrations = (
            await asyncio.to_thread(check_migrations, services)
            if database[0]
            else (False, "not checked: no database")
        )
        checks = {
            "database": database,
            "migrations": migrations,
            "channels": check_channels(configured(), mounted),
        }
        ready = all(ok for ok, _ in checks.values())
        return JSONResponse(
            status_code=200 if ready else 503,
            content={
                "status": "ready" if ready else "not_ready",
                "checks": {
                    name: {"ok": ok, "detail": detail} for name, (ok, detail) in checks.items()
                },
            },
        )

    return routes

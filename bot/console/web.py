"""The console's plumbing: who is signed in, CSRF on every POST, role checks, page rendering."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from bot.console.auth import (
    LANGUAGE_COOKIE,
    SESSION_COOKIE,
    Actor,
    ConsoleSettings,
    Throttle,
    current,
    same,
)
from bot.db import transaction
from bot.i18n import N_, Translator
from bot.services import Services

PREFIX = "/console"
FORBIDDEN = N_("You do not have access to this page.")
SIGNED_OUT = N_("Please sign in.")
BAD_FORM = N_("This form has expired. Go back, reload the page and try again.")
NOT_FOUND = N_("There is nothing here.")
DATABASE_DOWN = N_("The database cannot be reached right now. Reload this page in a minute.")


class Denied(Exception):
    """Stops a request with a clear page (HTML) or a small JSON error; never data."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SignInNeeded(Exception):
    """No valid session: pages redirect to the sign-in form, JSON answers 401."""


@dataclass
class Console:
    """What every console route needs, built once per app."""

    services: Services
    templates: Jinja2Templates
    settings: ConsoleSettings
    throttle: Throttle

    def now(self) -> dt.datetime:
        return self.services.clock()

    def translator(self, request: Request) -> Translator:
        chosen = request.cookies.get(LANGUAGE_COOKIE)
        program = self.services.program
        language = chosen if chosen in program.languages else program.default_language
        return self.services.catalogs.translator(language)

    def secure_cookies(self) -> bool:
        return self.services.settings.public_url.startswith("https://")

    def render(
        self,
        request: Request,
        name: str,
        actor: Actor | None,
        status: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        translator = self.translator(request)
        return self.templates.TemplateResponse(
            request,
            f"console/{name}",
            {
                "t": translator.gettext,
                "lang": translator.language.replace("_", "-"),
                "rtl": translator.right_to_left,
                "languages": self.services.program.languages,
                "program": self.services.program,
                "actor": actor,
                "csrf": actor.csrf if actor else "",
                "path": request.url.path,
                **context,
            },
            status_code=status,
        )


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def signed_in(request: Request) -> Actor:
    """The signed-in user (their session's idle timer restarts); else sign-in is needed."""
    console = console_of(request)
    with transaction(console.services.sessions) as session:
        actor = current(
            session, request.cookies.get(SESSION_COOKIE), console.now(), console.settings
        )
    if actor is None:
        raise SignInNeeded()
    request.state.actor = actor
    return actor


async def posted_csrf(request: Request) -> str:
    """The CSRF token a POST carries: a form field, or a header for script requests."""
    header = request.headers.get("x-csrf-token", "")
    if header:
        return header
    form = await request.form()
    value = form.get("csrf", "")
    return value if isinstance(value, str) else ""


def poster(
    actor: Annotated[Actor, Depends(signed_in)], token: Annotated[str, Depends(posted_csrf)]
) -> Actor:
    """A signed-in user's POST: without the session's CSRF token it is refused (403)."""
    if not same(token, actor.csrf):
        raise Denied(403, BAD_FORM)
    return actor


def need(actor: Actor, role: str) -> None:
    if not actor.at_least(role):
        raise Denied(403, FORBIDDEN)


def redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def sign_in_redirect(request: Request) -> Response:
    if request.url.path.startswith(f"{PREFIX}/api/") or request.method != "GET":
        return JSONResponse({"error": "unauthorized", "reason": "sign in first"}, status_code=401)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect(f"{PREFIX}/login?next={quote(target, safe='')}")


def denied_page(request: Request, exc: Denied) -> Response:
    console = console_of(request)
    if request.url.path.startswith(f"{PREFIX}/api/"):
        reason = console.translator(request).gettext(exc.message)
        error = "denied" if exc.status < 500 else "service_unavailable"
        return JSONResponse({"error": error, "reason": reason}, status_code=exc.status)
    actor = getattr(request.state, "actor", None)
    return console.render(request, "error.html", actor, status=exc.status, message=exc.message)

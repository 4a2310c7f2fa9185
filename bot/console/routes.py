"""The console app under /console: sign-in, and the coach's offers, chats and shifts."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import JSONResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bot.console import admin, dashboard, staff
from bot.console.audit import audit
from bot.console.auth import (
    LANGUAGE_COOKIE,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Actor,
    ConsoleSettings,
    Throttle,
    same,
    sign_in,
    sign_out,
)
from bot.console.web import (
    BAD_FORM,
    DATABASE_DOWN,
    FORBIDDEN,
    NOT_FOUND,
    PREFIX,
    Console,
    Denied,
    SignInNeeded,
    console_of,
    denied_page,
    poster,
    redirect,
    sign_in_redirect,
    signed_in,
)
from bot.console.work import (
    answer_offer,
    close,
    find,
    may_read_messages,
    may_see,
    open_handoffs,
    pending_offers,
    relay_messages,
    responder,
    send_to_person,
)
from bot.db import transaction
from bot.handoff import texts
from bot.i18n import N_
from bot.models import Shift
from bot.services import Services
from bot.web.database_down import answered_unavailable

WRONG = N_("That username and password do not match.")
LOCKED = N_("Too many failed attempts. Try again in a few minutes.")
SLOW_DOWN = N_("Too many attempts from here. Wait a minute and try again.")
EXPIRED = N_("Your session ended. Please sign in again.")
RESULTS = {
    "accepted": N_("You accepted {code}."),
    "taken": N_("{code} was already taken by someone else."),
    "declined": N_("{code} will be offered to someone else."),
    "no_offer": N_("There is no open offer {code} for you."),
}
WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)

router = APIRouter()
Signed = Annotated[Actor, Depends(signed_in)]
Posted = Annotated[Actor, Depends(poster)]


def create_console(services: Services, templates: Jinja2Templates) -> FastAPI:
    """A sub-application, so its errors are pages while the API's stay JSON."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    settings = ConsoleSettings()
    app.state.console = Console(
        services, templates, settings, Throttle(settings.attempts_per_minute)
    )
    app.include_router(router)
    app.include_router(staff.router)
    app.include_router(dashboard.router)
    app.include_router(admin.router)

    @app.exception_handler(SignInNeeded)
    async def _sign_in(request: Request, _exc: SignInNeeded) -> Response:
        return sign_in_redirect(request)

    @app.exception_handler(Denied)
    async def _denied(request: Request, exc: Denied) -> Response:
        return denied_page(request, exc)

    @app.exception_handler(404)
    async def _missing(request: Request, _exc: Exception) -> Response:
        return denied_page(request, Denied(404, NOT_FOUND))

    @app.exception_handler(OperationalError)
    async def _database_down(request: Request, exc: OperationalError) -> Response:
        """A page that says what is wrong (the sub-app's errors are pages, not the API's
        JSON), with the same 503 and Retry-After as every other route."""
        response = denied_page(request, Denied(503, DATABASE_DOWN))
        response.headers.update(answered_unavailable(exc))
        return response

    return app


# --- signing in and out ------------------------------------------------------------------------


def _login_page(request: Request, message: str | None = None, status: int = 200) -> Response:
    console = console_of(request)
    token = secrets.token_urlsafe(32)
    response = console.render(
        request,
        "login.html",
        None,
        status=status,
        login_csrf=token,
        message=message,
        next=_safe_next(request.query_params.get("next", "")),
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=console.secure_cookies(),
        path=PREFIX,
        max_age=3600,
    )
    return response


def _safe_next(target: str) -> str:
    """Only a console path: never send someone elsewhere after signing in."""
    ok = target.startswith(f"{PREFIX}/") and not target.startswith("//") and "\\" not in target
    return target if ok else f"{PREFIX}/"


@router.get("/login", include_in_schema=False)
def login_form(request: Request) -> Response:
    reason = request.query_params.get("reason")
    return _login_page(request, EXPIRED if reason == "expired" else None)


@router.post("/login", include_in_schema=False)
def login(
    request: Request,
    username: Annotated[str, Form(max_length=60)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    csrf: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    console = console_of(request)
    if not same(csrf, request.cookies.get(LOGIN_COOKIE, "")):
        raise Denied(403, BAD_FORM)
    now = console.now()
    client = request.client.host if request.client else "unknown"
    if not console.throttle.allow(client, now):
        return _login_page(request, SLOW_DOWN, status=429)
    with transaction(console.services.sessions) as session:
        result, token = sign_in(session, username, password, now, console.settings)
        if result == "locked":
            audit(session, None, "login_locked", username[:80], now)
    if result != "ok" or token is None:
        return _login_page(request, LOCKED if result == "locked" else WRONG, status=401)
    response = redirect(_safe_next(next))
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=console.secure_cookies(),
        path=PREFIX,
    )
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request, actor: Posted) -> Response:
    console = console_of(request)
    with transaction(console.services.sessions) as session:
        sign_out(session, request.cookies.get(SESSION_COOKIE))
    del actor
    response = redirect(f"{PREFIX}/login")
    response.delete_cookie(SESSION_COOKIE, path=PREFIX)
    return response


@router.post("/language", include_in_schema=False)
def language(
    request: Request,
    actor: Posted,
    lang: Annotated[str, Form(max_length=16)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    console = console_of(request)
    response = redirect(_safe_next(next))
    if lang in console.services.program.languages:
        response.set_cookie(
            LANGUAGE_COOKIE, lang, samesite="lax", secure=console.secure_cookies(), path=PREFIX
        )
    del actor
    return response


@router.get("/", include_in_schema=False)
def home(actor: Signed) -> Response:
    if actor.role == "coach":
        return redirect(f"{PREFIX}/offers")
    return redirect(f"{PREFIX}/queue")


# --- the coach ---------------------------------------------------------------------------------


@router.get("/offers", include_in_schema=False)
def offers_page(request: Request, actor: Signed) -> Response:
    console = console_of(request)
    with console.services.read_sessions() as session:
        offers = pending_offers(session, actor.responder_id)
        mine = open_handoffs(session, actor.responder_id)
    return console.render(request, "offers.html", actor, offers=offers, mine=mine, labels=_labels())


def _labels() -> dict[str, dict[str, str]]:
    return {
        "urgency": texts.URGENCIES,
        "help": texts.HELP_KINDS,
        "pathway": texts.PATHWAYS,
    }


@router.get("/api/offers", include_in_schema=False)
def offers_json(request: Request, actor: Signed) -> JSONResponse:
    """Polled every few seconds by the offers page: codes and labels, nothing personal."""
    console = console_of(request)
    t = console.translator(request).gettext
    with console.services.read_sessions() as session:
        offers = pending_offers(session, actor.responder_id)
    return JSONResponse(
        {
            "count": len(offers),
            "offers": [
                {
                    "code": o.code,
                    "urgency": t(texts.URGENCIES.get(o.urgency, o.urgency)),
                    "crisis": o.urgency == "crisis",
                    "language": o.language,
                    "help": t(texts.HELP_KINDS[o.help_kind])
                    if o.help_kind in texts.HELP_KINDS
                    else t(texts.NOT_SAID),
                    "pathway": t(texts.PATHWAYS.get(o.pathway, o.pathway)),
                }
                for o in offers
            ],
        },
        headers={"Cache-Control": "no-store"},
    )


@router.post("/offers/{code}/{answer}", include_in_schema=False)
def answer(request: Request, code: str, answer: str, actor: Posted) -> Response:
    if answer not in ("accept", "decline"):
        raise Denied(404, NOT_FOUND)
    console = console_of(request)
    with transaction(console.services.sessions) as session:
        handoff = find(session, code)
        who = responder(session, actor)
        if handoff is None or who is None or not may_see(session, actor, handoff):
            raise Denied(403, FORBIDDEN)
        result = answer_offer(console.services, session, who, handoff, answer == "accept")
        audit(session, actor.user_id, f"offer_{answer}", handoff.code, console.now())
    if result.result == "accepted":
        return redirect(f"{PREFIX}/handoffs/{handoff.code}")
    return redirect(f"{PREFIX}/offers?result={result.result}&code={handoff.code}")


@router.get("/handoffs/{code}", include_in_schema=False)
def handoff_page(request: Request, code: str, actor: Signed) -> Response:
    console = console_of(request)
    with transaction(console.services.sessions) as session:
        handoff = find(session, code)
        if handoff is None or not may_see(session, actor, handoff):
            raise Denied(403, FORBIDDEN)
        readable = may_read_messages(actor, handoff)
        messages = relay_messages(session, handoff) if readable else []
        audit(session, actor.user_id, "view_handoff", handoff.code, console.now())
    return console.render(
        request,
        "handoff.html",
        actor,
        handoff=handoff,
        messages=messages,
        readable=readable,
        outcomes=texts.OUTCOMES,
        labels=_labels(),
        tz=console.services.program.tz,
    )


@router.get("/api/handoffs/{code}/messages", include_in_schema=False)
def messages_json(request: Request, code: str, actor: Signed, after: int = 0) -> JSONResponse:
    console = console_of(request)
    with transaction(console.services.sessions) as session:
        handoff = find(session, code)
        if handoff is None or not may_see(session, actor, handoff):
            raise Denied(403, FORBIDDEN)
        if not may_read_messages(actor, handoff):
            raise Denied(403, FORBIDDEN)
        found = relay_messages(session, handoff, after)
        if found:  # an audit row per read of bodies, not per empty poll
            audit(session, actor.user_id, "read_messages", handoff.code, console.now())
        status = handoff.status
    tz = console.services.program.tz
    return JSONResponse(
        {
            "status": status,
            "messages": [
                {"id": i, "direction": d, "body": b, "at": at.astimezone(tz).strftime("%H:%M")}
                for i, d, b, at in found
            ],
        },
        headers={"Cache-Control": "no-store"},
    )


@router.post("/handoffs/{code}/send", include_in_schema=False)
def send(
    request: Request, code: str, actor: Posted, text: Annotated[str, Form(max_length=1600)] = ""
) -> Response:
    console = console_of(request)
    with transaction(console.services.sessions) as session:
        handoff = find(session, code)
        who = responder(session, actor)
        if handoff is None or who is None or not may_read_messages(actor, handoff):
            raise Denied(403, FORBIDDEN)
        if text.strip():
            send_to_person(console.services, session, who, handoff, text.strip())
            audit(session, actor.user_id, "send_message", handoff.code, console.now())
    if request.headers.get("x-requested-with") == "fetch":
        return JSONResponse({"ok": True})
    return redirect(f"{PREFIX}/handoffs/{code}")


@router.post("/handoffs/{code}/outcome", include_in_schema=False)
def outcome(
    request: Request,
    code: str,
    actor: Posted,
    result: Annotated[str, Form(max_length=20)] = "",
    rating: Annotated[str, Form(max_length=2)] = "",
) -> Response:
    console = console_of(request)
    if result not in [key for key, _ in texts.OUTCOMES]:
        raise Denied(400, BAD_FORM)
    score = int(rating) if rating in ("1", "2", "3", "4", "5") else None
    with transaction(console.services.sessions) as session:
        handoff = find(session, code)
        who = responder(session, actor)
        if handoff is None or who is None or not may_read_messages(actor, handoff):
            raise Denied(403, FORBIDDEN)
        if handoff.status in ("accepted", "connected"):
            close(console.services, session, who, handoff, result, score)
            audit(session, actor.user_id, "record_outcome", handoff.code, console.now())
    return redirect(f"{PREFIX}/offers")


@router.get("/shifts", include_in_schema=False)
def shifts(request: Request, actor: Signed) -> Response:
    console = console_of(request)
    with console.services.read_sessions() as session:
        rows = list(
            session.scalars(
                select(Shift)
                .where(Shift.responder_id == (actor.responder_id or -1))
                .order_by(Shift.kind, Shift.weekday, Shift.start_time, Shift.starts_at)
            )
        )
    return console.render(
        request,
        "shifts.html",
        actor,
        shifts=rows,
        weekdays=WEEKDAYS,
        tz=console.services.program.tz,
        today=dt.datetime.now(dt.UTC),
    )

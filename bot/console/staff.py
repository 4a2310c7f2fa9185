"""Supervisor pages: the queue, who is on call, reassign and escalate; follow-up enrolments."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from bot.console.audit import audit
from bot.console.auth import Actor
from bot.console.web import FORBIDDEN, PREFIX, Denied, console_of, need, poster, redirect, signed_in
from bot.console.work import escalate, find, on_call_now, queue, reassign
from bot.db import transaction
from bot.followup.enrolment import EnrolmentError, enroll_one, parse_fields
from bot.handoff import texts
from bot.i18n import N_
from bot.models import FollowupEnrolment, Responder, Team
from bot.referrals import PATHWAYS

router = APIRouter()
Signed = Annotated[Actor, Depends(signed_in)]
Posted = Annotated[Actor, Depends(poster)]
ENROLLED = N_("Enrolled. The first text is scheduled.")
ALREADY = N_("This person was already enrolled for this event.")
REASSIGNED = N_("Request {code} now belongs to {name}.")
REROUTED = N_("Request {code} was offered again ({count} offers).")
NOT_OPEN = N_("Request {code} is not open any more.")
ENROLMENT_FIELDS = (
    "phone",
    "telegram_chat_id",
    "language",
    "event_time",
    "consent",
    "consent_by",
    "name",
    "notes",
    "time_zone",
    "pathway",
)


@router.get("/queue", include_in_schema=False)
def queue_page(request: Request, actor: Signed) -> Response:
    need(actor, "supervisor")
    console = console_of(request)
    with console.services.read_sessions() as session:
        waiting = queue(session)
        on_call = on_call_now(console.services, session)
        team = list(
            session.scalars(
                select(Responder).where(Responder.active.is_(True)).order_by(Responder.display_name)
            )
        )
    names = {r.id: r.display_name for r in team}
    return console.render(
        request,
        "queue.html",
        actor,
        waiting=waiting,
        on_call=on_call,
        team=team,
        names=names,
        now=console.now(),
        labels={"urgency": texts.URGENCIES, "pathway": texts.PATHWAYS},
        notice=request.query_params.get("notice"),
    )


@router.post("/handoffs/{code}/reassign", include_in_schema=False)
def reassign_post(
    request: Request,
    code: str,
    actor: Posted,
    responder_id: Annotated[int, Form()] = 0,
) -> Response:
    need(actor, "supervisor")
    console = console_of(request)
    t = console.translator(request).gettext
    with transaction(console.services.sessions) as session:
        handoff = find(session, code)
        target = session.get(Responder, responder_id)
        if handoff is None or target is None or not target.active:
            raise Denied(404, FORBIDDEN)
        result = reassign(console.services, session, handoff, target)
        audit(session, actor.user_id, "reassign", handoff.code, console.now())
        name = target.display_name
    message = (
        t(NOT_OPEN).format(code=code)
        if result in ("closed", "taken", "no_offer")
        else t(REASSIGNED).format(code=code, name=name)
    )
    return redirect(f"{PREFIX}/queue?notice={_quote(message)}")


@router.post("/handoffs/{code}/escalate", include_in_schema=False)
def escalate_post(request: Request, code: str, actor: Posted) -> Response:
    need(actor, "supervisor")
    console = console_of(request)
    t = console.translator(request).gettext
    with transaction(console.services.sessions) as session:
        handoff = find(session, code)
        if handoff is None:
            raise Denied(404, FORBIDDEN)
        count = escalate(console.services, session, handoff)
        audit(session, actor.user_id, "escalate", handoff.code, console.now())
    message = t(REROUTED).format(code=code, count=count)
    return redirect(f"{PREFIX}/queue?notice={_quote(message)}")


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


@router.get("/followups", include_in_schema=False)
def followups(request: Request, actor: Signed) -> Response:
    need(actor, "supervisor")
    console = console_of(request)
    with transaction(console.services.sessions) as session:
        rows = list(
            session.scalars(
                select(FollowupEnrolment).order_by(FollowupEnrolment.id.desc()).limit(200)
            )
        )
        teams = list(session.scalars(select(Team.name).where(Team.active.is_(True))))
        audit(session, actor.user_id, "view_followups", None, console.now())
    return console.render(
        request,
        "followups.html",
        actor,
        rows=rows,
        teams=teams,
        pathways=PATHWAYS,
        labels={"pathway": texts.PATHWAYS},
        tz=console.services.program.tz,
        notice=request.query_params.get("notice"),
        error=None,
        values={},
    )


@router.post("/followups", include_in_schema=False)
async def enrol(request: Request, actor: Annotated[Actor, Depends(poster)]) -> Response:
    """QRT staff enrol a person: the follow-up engineer's enrolment service does the work."""
    need(actor, "supervisor")
    form = await request.form()
    values = {k: str(form.get(k, "")).strip() for k in (*ENROLMENT_FIELDS, "team")}
    # The database work runs in the thread pool, never on the event loop.
    return await run_in_threadpool(_enrol, request, actor, values)


def _enrol(request: Request, actor: Actor, values: dict[str, str]) -> Response:
    console = console_of(request)
    team = values.pop("team")
    fields = {k: v for k, v in values.items() if v}
    t = console.translator(request).gettext
    try:
        parsed = parse_fields(fields)
        # The console is staff entering the form by hand, like the API a team's app calls.
        result = enroll_one(console.services, parsed, team=team, source="api")
    except EnrolmentError as exc:
        return _enrol_again(request, actor, f"{exc.field}: {exc.reason}", values)
    with transaction(console.services.sessions) as session:
        audit(session, actor.user_id, "enrol_followup", str(result.enrolment.id), console.now())
    notice = t(ENROLLED) if result.created else t(ALREADY)
    return redirect(f"{PREFIX}/followups?notice={_quote(notice)}")


def _enrol_again(request: Request, actor: Actor, error: str, values: dict[str, str]) -> Response:
    console = console_of(request)
    with console.services.read_sessions() as session:
        teams = list(session.scalars(select(Team.name).where(Team.active.is_(True))))
    return console.render(
        request,
        "followups.html",
        actor,
        status=422,
        rows=[],
        teams=teams,
        pathways=PATHWAYS,
        labels={"pathway": texts.PATHWAYS},
        tz=console.services.program.tz,
        notice=None,
        error=error,
        values=values,
    )


__all__ = ["FORBIDDEN", "router"]

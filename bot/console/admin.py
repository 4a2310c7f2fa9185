"""Admin pages: responders, shifts, referral codes, teams and console users."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.console.audit import audit
from bot.console.auth import ROLES, Actor
from bot.console.users import add_user, disable_user, list_users
from bot.console.web import NOT_FOUND, PREFIX, Denied, console_of, need, poster, redirect, signed_in
from bot.db import transaction
from bot.errors import UserError
from bot.followup.teams import add_team, disable_team
from bot.handoff.roster import check_role, parse_time, parse_weekday
from bot.handoff.routing import RESPONDER_ROLES
from bot.i18n import N_
from bot.models import Responder, Shift, Team
from bot.referrals import PATHWAYS, ReferralError, add_code, disable_code, list_codes

router = APIRouter()
Signed = Annotated[Actor, Depends(signed_in)]
Posted = Annotated[Actor, Depends(poster)]
SAVED = N_("Saved.")
TEAM_KEY = N_("Team added. Its API key, shown only now: {key}")


def _back(notice: str) -> Response:
    return redirect(f"{PREFIX}/admin?notice={quote(notice, safe='')}")


@router.get("/admin", include_in_schema=False)
def admin_page(request: Request, actor: Signed) -> Response:
    need(actor, "admin")
    console = console_of(request)
    with transaction(console.services.sessions) as session:
        responders = list(session.scalars(select(Responder).order_by(Responder.name)))
        shifts = list(session.scalars(select(Shift).order_by(Shift.responder_id, Shift.weekday)))
        codes = list_codes(session)
        teams = list(session.scalars(select(Team).order_by(Team.name)))
        users = list_users(session)
        audit(session, actor.user_id, "view_admin", None, console.now())
    return console.render(
        request,
        "admin.html",
        actor,
        responders=responders,
        names={r.id: r.name for r in responders},
        shifts=shifts,
        codes=codes,
        teams=teams,
        users=users,
        roles=ROLES,
        responder_roles=RESPONDER_ROLES,
        pathways=PATHWAYS,
        notice=request.query_params.get("notice"),
        tz=console.services.program.tz,
    )


def _do(
    request: Request, actor: Actor, action: str, target: str, work: Callable[[Session], str | None]
) -> Response:
    """Run one change in a transaction; a bad value comes back as the notice."""
    need(actor, "admin")
    console = console_of(request)
    t = console.translator(request).gettext
    try:
        with transaction(console.services.sessions) as session:
            notice = work(session)
            audit(session, actor.user_id, action, target[:80], console.now())
    except (UserError, ReferralError, ValueError) as exc:
        return _back(str(exc))
    return _back(str(notice) if notice else t(SAVED))


@router.post("/admin/responders/add", include_in_schema=False)
def add_responder(
    request: Request,
    actor: Posted,
    name: Annotated[str, Form(min_length=1, max_length=120)],
    display_name: Annotated[str, Form(min_length=1, max_length=60)],
    role: Annotated[str, Form(max_length=30)] = "peer_recovery_coach",
    languages: Annotated[str, Form(max_length=100)] = "en",
) -> Response:
    def work(session: Session) -> None:
        check_role(role)
        if session.scalar(select(Responder.id).where(Responder.name == name.strip())):
            raise UserError(f"responder {name!r} already exists")
        session.add(
            Responder(
                name=name.strip(),
                display_name=display_name.strip(),
                role=role,
                languages=[x.strip() for x in languages.split(",") if x.strip()] or ["en"],
                skills=[],
                capacity=3,
                active=True,
                created_at=console_of(request).now(),
            )
        )

    return _do(request, actor, "add_responder", name, work)


@router.post("/admin/{kind}/{item}/deactivate", include_in_schema=False)
def deactivate(request: Request, kind: str, item: str, actor: Posted) -> Response:
    def work(session: Session) -> None:
        if kind == "responders":
            row = session.get(Responder, int(item))
            if row is None:
                raise Denied(404, NOT_FOUND)
            row.active = False
        elif kind == "shifts":
            shift = session.get(Shift, int(item))
            if shift is None:
                raise Denied(404, NOT_FOUND)
            session.delete(shift)
        elif kind == "codes":
            disable_code(session, item)
        elif kind == "teams":
            disable_team(session, item)
        elif kind == "users":
            disable_user(session, item)
        else:
            raise Denied(404, NOT_FOUND)

    return _do(request, actor, f"deactivate_{kind}", item, work)


@router.post("/admin/shifts/add", include_in_schema=False)
def add_shift(
    request: Request,
    actor: Posted,
    responder_id: Annotated[int, Form()],
    weekday: Annotated[str, Form(max_length=10)],
    start: Annotated[str, Form(max_length=5)],
    end: Annotated[str, Form(max_length=5)],
) -> Response:
    def work(session: Session) -> None:
        if session.get(Responder, responder_id) is None:
            raise UserError("no such responder")
        session.add(
            Shift(
                responder_id=responder_id,
                kind="weekly",
                weekday=parse_weekday(weekday),
                start_time=parse_time(start),
                end_time=parse_time(end),
                available=True,
            )
        )

    return _do(request, actor, "add_shift", str(responder_id), work)


@router.post("/admin/codes/add", include_in_schema=False)
def add_referral_code(
    request: Request,
    actor: Posted,
    code: Annotated[str, Form(max_length=40)],
    pathway: Annotated[str, Form(max_length=32)],
    team: Annotated[str, Form(max_length=80)] = "",
    description: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    def work(session: Session) -> None:
        add_code(
            session,
            code,
            pathway=pathway,
            now=console_of(request).now(),
            team=team.strip() or None,
            description=description.strip() or None,
        )

    return _do(request, actor, "add_referral_code", code, work)


@router.post("/admin/teams/add", include_in_schema=False)
def add_referring_team(
    request: Request, actor: Posted, name: Annotated[str, Form(max_length=80)]
) -> Response:
    t = console_of(request).translator(request).gettext

    def work(session: Session) -> str:
        _team, key = add_team(session, name, console_of(request).now())
        return t(TEAM_KEY).format(key=key)

    return _do(request, actor, "add_team", name, work)


@router.post("/admin/users/add", include_in_schema=False)
def add_console_user(
    request: Request,
    actor: Posted,
    username: Annotated[str, Form(max_length=60)],
    role: Annotated[str, Form(max_length=12)],
    password: Annotated[str, Form(max_length=200)],
    responder: Annotated[str, Form(max_length=120)] = "",
) -> Response:
    def work(session: Session) -> None:
        add_user(
            session,
            username,
            role=role,
            password=password,
            now=console_of(request).now(),
            responder=responder or None,
        )

    return _do(request, actor, "add_user", username, work)


__all__ = ["router"]

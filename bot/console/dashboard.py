"""The outcomes dashboard and its CSV export (supervisors and admins)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from markupsafe import Markup

from bot.console import charts
from bot.console.audit import audit
from bot.console.auth import Actor
from bot.console.export import rows, to_csv
from bot.console.outcomes import STAGES, Figures, Filters, compute
from bot.console.web import Console, console_of, need, signed_in
from bot.db import transaction
from bot.handoff import texts
from bot.i18n import N_
from bot.referrals import PATHWAYS

router = APIRouter()
Signed = Annotated[Actor, Depends(signed_in)]
STAGE_LABELS = {
    "contacts": N_("Contacts"),
    "intake": N_("Intake done"),
    "requested": N_("Asked for a person"),
    "accepted": N_("Accepted"),
    "connected": N_("Connected"),
    "completed": N_("Completed"),
}
PEOPLE = N_("People")
DAY = N_("Day")
FUNNEL = N_("From first message to a completed handoff")
BY_PATHWAY = N_("Funnel by pathway")
BY_LANGUAGE = N_("Funnel by language")
OVER_TIME = N_("Over time")


def filters_from(console: Console, request: Request) -> Filters:
    """From the query string; a bad or missing date falls back to the last 30 days."""
    today = console.now().astimezone(console.services.program.tz).date()

    def day(name: str, default: dt.date) -> dt.date:
        try:
            return dt.date.fromisoformat(request.query_params.get(name, ""))
        except ValueError:
            return default

    end = day("to", today)
    start = day("from", end - dt.timedelta(days=29))
    if start > end:
        start, end = end, start
    start = max(start, end - dt.timedelta(days=366 * 3))  # a bounded amount of work
    pathway = request.query_params.get("pathway") or None
    return Filters(
        start, end, console.services.program.tz, pathway if pathway in PATHWAYS else None
    )


def _charts(figures: Figures, gettext: Callable[[str], str]) -> dict[str, Markup]:
    series = [(k, gettext(STAGE_LABELS[k])) for k in STAGES]
    pathways = {gettext(texts.PATHWAYS.get(k, k)): v for k, v in figures.by_pathway.items()}
    return {
        "funnel": charts.bars(
            gettext(FUNNEL),
            [(gettext(STAGE_LABELS[k]), figures.total.get(k, 0)) for k in STAGES],
            gettext(PEOPLE),
        ),
        "pathways": charts.grouped(gettext(BY_PATHWAY), pathways, series, gettext(PEOPLE)),
        "languages": charts.grouped(
            gettext(BY_LANGUAGE), figures.by_language, series, gettext(PEOPLE)
        ),
        "time": charts.lines(
            gettext(OVER_TIME),
            figures.over_time,
            [
                (k, gettext(STAGE_LABELS[k]))
                for k in ("contacts", "requested", "accepted", "completed")
            ],
            gettext(PEOPLE),
            gettext(DAY),
        ),
    }


@router.get("/dashboard", include_in_schema=False)
def dashboard(request: Request, actor: Signed) -> Response:
    need(actor, "supervisor")
    console = console_of(request)
    filters = filters_from(console, request)
    with console.services.read_sessions() as session:
        figures = compute(session, filters)
    t = console.translator(request).gettext
    return console.render(
        request,
        "dashboard.html",
        actor,
        figures=figures,
        filters=filters,
        charts=_charts(figures, t),
        stages=STAGES,
        stage_labels=STAGE_LABELS,
        pathways=PATHWAYS,
        pathway_labels=texts.PATHWAYS,
        query=request.url.query,
    )


@router.get("/dashboard.csv", include_in_schema=False)
def dashboard_csv(request: Request, actor: Signed) -> Response:
    """The same figures, de-identified: counts under 5 people are shown as "<5"."""
    need(actor, "supervisor")
    console = console_of(request)
    filters = filters_from(console, request)
    with console.services.read_sessions() as session:
        figures = compute(session, filters)
    with transaction(console.services.sessions) as session:
        target = f"{filters.start}..{filters.end} {filters.pathway or 'all'}"
        audit(session, actor.user_id, "export_outcomes", target, console.now())
    name = f"doorway-outcomes-{filters.start}-{filters.end}.csv"
    return Response(
        to_csv(rows(figures)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )

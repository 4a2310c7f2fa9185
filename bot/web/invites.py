"""Calendar invites (.ics) for booked handoffs, behind a signed link sent to the responder."""

from __future__ import annotations

import datetime as dt
import hmac

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from bot.handoff.booking import invite_signature
from bot.models import Handoff
from bot.services import Services

DURATION = dt.timedelta(minutes=30)


def invite(services: Services, handoff: Handoff) -> bytes:
    """Minimum necessary: the code, the time and the program; no name, number or story."""
    # Imported here: a few megabytes in every server process for a page opened rarely.
    from icalendar import Calendar, Event

    assert handoff.scheduled_for is not None
    calendar = Calendar()
    calendar.add("prodid", "-//Doorway//handoff//EN")
    calendar.add("version", "2.0")
    event = Event()
    event.add("uid", f"handoff-{handoff.code}@doorway")
    event.add("summary", f"{services.program.short_name}: request {handoff.code}")
    event.add("dtstart", handoff.scheduled_for)
    event.add("dtend", handoff.scheduled_for + DURATION)
    event.add("dtstamp", services.clock())
    calendar.add_component(event)
    return bytes(calendar.to_ical())


def router() -> APIRouter:
    routes = APIRouter()

    @routes.get("/handoffs/{code}/invite.ics", include_in_schema=False)
    def download(request: Request, code: str, sig: str = Query(max_length=64)) -> Response:
        services: Services = request.app.state.services
        with services.read_sessions() as session:
            handoff = session.scalar(select(Handoff).where(Handoff.code == code[:12]))
            if handoff is None or handoff.scheduled_for is None:
                raise HTTPException(404, detail="no booked time for this code")
            expected = invite_signature(services, handoff.code, handoff.scheduled_for)
            if not hmac.compare_digest(expected, sig):
                raise HTTPException(403, detail="this link is not valid")
            body = invite(services, handoff)
        return Response(
            body,
            media_type="text/calendar",
            headers={"Content-Disposition": f'attachment; filename="{code}.ics"'},
        )

    return routes

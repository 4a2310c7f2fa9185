"""`POST /api/v1/followups`: a team enrols a person with its API key."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from bot.followup.enrolment import EnrolmentError, EnrolmentFields, enroll_one
from bot.followup.teams import authenticate
from bot.models import FollowupEnrolment
from bot.services import Services

#: An enrolment is well under a kilobyte; this leaves room for long notes and nothing more.
MAX_BODY = 16 * 1024

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="TeamKey",
    description="A team API key from `doorway teams add NAME`, as `Authorization: Bearer dwk_...`.",
)


class ErrorOut(BaseModel):
    error: str = Field(examples=["invalid"])
    reason: str = Field(examples=["phone: not a valid phone number"])


class EnrolmentOut(BaseModel):
    """An enrolment as the team sees it: no contact details, no notes."""

    id: int
    team: str
    status: str = Field(description="active, stopped or completed")
    language: str
    pathway: str
    next_step: int | None = Field(description="Index of the next step in the cadence")
    next_due_at: dt.datetime | None = Field(description="When it goes (quiet hours applied)")
    created: bool = Field(description="False when this person was already enrolled for it")

    @classmethod
    def of(cls, enrolment: FollowupEnrolment, *, created: bool) -> EnrolmentOut:
        return cls(
            id=enrolment.id,
            team=enrolment.team,
            status=enrolment.status,
            language=enrolment.language,
            pathway=enrolment.pathway,
            next_step=enrolment.next_step,
            next_due_at=enrolment.next_due_at,
            created=created,
        )


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _small_body(request: Request) -> None:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > MAX_BODY:
        raise HTTPException(413, f"the body is over {MAX_BODY} bytes")


def team_for(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> str:
    """The caller's team; 401 without a key or with one that is wrong or disabled."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise HTTPException(401, "an API key is required: Authorization: Bearer ...", challenge)
    services = _services(request)
    with services.read_sessions() as session:
        team = authenticate(session, credentials.credentials)
        name = team.name if team is not None else None
    if name is None:
        raise HTTPException(401, "the API key is not valid or its team is disabled", challenge)
    return name


router = APIRouter(prefix="/api/v1", tags=["follow-ups"])


@router.post(
    "/followups",
    status_code=201,
    response_model=EnrolmentOut,
    dependencies=[Depends(_small_body)],
    summary="Enrol a person in follow-up texts",
    responses={
        200: {"model": EnrolmentOut, "description": "Already enrolled for this event"},
        401: {"model": ErrorOut, "description": "No API key, or not a valid one"},
        413: {"model": ErrorOut, "description": "The body is too large"},
        422: {"model": ErrorOut, "description": "A field is wrong; `reason` says which"},
    },
)
def create_followup(
    body: EnrolmentFields,
    request: Request,
    response: Response,
    team: Annotated[str, Depends(team_for)],
) -> EnrolmentOut:
    """Idempotent: the same person and event time again returns the same enrolment (200)."""
    try:
        result = enroll_one(_services(request), body, team=team, source="api")
    except EnrolmentError as exc:
        raise HTTPException(422, str(exc)) from None
    if not result.created:
        response.status_code = 200
    return EnrolmentOut.of(result.enrolment, created=result.created)

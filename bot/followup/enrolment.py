"""Enrol a person in follow-up: one service behind the CLI, the CSV import and the API."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.config import Program
from bot.db import transaction
from bot.errors import UserError
from bot.events import record
from bot.followup.campaign import schedule_next
from bot.followup.teams import active_team
from bot.identities import find_or_create_identity, lock_contact
from bot.models import Consent, FollowupEnrolment
from bot.referrals import PATHWAYS
from bot.services import Services

ConsentMethod = Literal["scene", "hospital", "phone"]
Source = Literal["cli", "csv", "api"]
#: Clocks on a phone at the scene and on the server differ a little.
CLOCK_SKEW = dt.timedelta(minutes=10)


class EnrolmentError(UserError):
    """One field of an enrolment is wrong; `str()` is `field: reason`, with no personal data."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class EnrolmentFields(BaseModel):
    """What staff tell us about a person they enrolled (the team comes from the caller)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    phone: str | None = Field(
        default=None,
        max_length=40,
        description="Mobile number, E.164 (+12125550123) or national; normalised to E.164.",
    )
    telegram_chat_id: str | None = Field(
        default=None,
        pattern=r"^-?[0-9]{1,20}$",
        description="A Telegram chat id instead of a phone number.",
    )
    language: str = Field(
        min_length=2, max_length=16, description="A language the program offers, e.g. en, es."
    )
    event_time: dt.datetime = Field(
        description="When the team met the person. Without an offset it is local time "
        "(time_zone, else the program's)."
    )
    consent: ConsentMethod = Field(description="Where permission to text was given.")
    consent_by: str = Field(
        min_length=1, max_length=80, description="Who obtained it (staff name or ID)."
    )
    name: str | None = Field(default=None, max_length=40, description="A name to use in texts.")
    notes: str | None = Field(
        default=None, max_length=2000, description="For the team only; encrypted, never sent."
    )
    time_zone: str | None = Field(
        default=None,
        max_length=64,
        description="IANA time zone (America/Chicago); else the area code's, else the program's.",
    )
    pathway: str | None = Field(default=None, description="Defaults to the program's.")

    @field_validator("phone", "telegram_chat_id", "name", "notes", "time_zone", "pathway")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError("not a known time zone (use e.g. America/Chicago)") from None
        return value

    @field_validator("pathway")
    @classmethod
    def _known_pathway(cls, value: str | None) -> str | None:
        if value is not None and value not in PATHWAYS:
            raise ValueError(f"choose one of {', '.join(PATHWAYS)}")
        return value

    @model_validator(mode="after")
    def _one_address(self) -> EnrolmentFields:
        if (self.phone is None) == (self.telegram_chat_id is None):
            raise ValueError("give exactly one of phone or telegram_chat_id")
        return self


@dataclass(frozen=True)
class ValidEnrolment:
    """An enrolment that passed every check but the database ones."""

    channel: str
    address: str
    team: str
    language: str
    event_at: dt.datetime
    consent_method: str
    consent_by: str
    name: str | None
    notes: str | None
    time_zone: str | None
    pathway: str


@dataclass(frozen=True)
class Enrolled:
    enrolment: FollowupEnrolment
    created: bool


def parse_fields(values: dict[str, str]) -> EnrolmentFields:
    """Fields from text (a command line, a CSV row); the first problem as an EnrolmentError."""
    try:
        return EnrolmentFields.model_validate({k: v for k, v in values.items() if v})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "row"
        raise EnrolmentError(where, str(error["msg"]).removeprefix("Value error, ")) from None


def normalise_phone(raw: str, region: str) -> str:
    """E.164, or an `EnrolmentError` that does not repeat the number."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        raise EnrolmentError("phone", "not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise EnrolmentError("phone", "not a valid phone number") from None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def validate(
    program: Program, fields: EnrolmentFields, *, team: str, now: dt.datetime
) -> ValidEnrolment:
    """The checks that need the program but not the database."""
    settings = program.followup
    if fields.language not in program.languages:
        offered = ", ".join(program.languages)
        raise EnrolmentError("language", f"{fields.language!r} is not offered ({offered})")
    zone = ZoneInfo(fields.time_zone) if fields.time_zone else program.tz
    event_at = fields.event_time
    if event_at.tzinfo is None:
        event_at = event_at.replace(tzinfo=zone)
    event_at = event_at.astimezone(dt.UTC)
    if event_at > now + CLOCK_SKEW:
        raise EnrolmentError("event_time", "is in the future")
    if now - event_at > dt.timedelta(days=settings.max_event_age_days):
        raise EnrolmentError("event_time", f"is more than {settings.max_event_age_days} days ago")
    if fields.phone is not None:
        channel, address = "sms", normalise_phone(fields.phone, settings.phone_region)
    else:
        assert fields.telegram_chat_id is not None
        channel, address = "telegram", fields.telegram_chat_id
    return ValidEnrolment(
        channel=channel,
        address=address,
        team=team,
        language=fields.language,
        event_at=event_at,
        consent_method=fields.consent,
        consent_by=fields.consent_by,
        name=fields.name,
        notes=fields.notes,
        time_zone=fields.time_zone,
        pathway=fields.pathway or settings.pathway,
    )


def check_team(session: Session, team: str) -> None:
    if active_team(session, team) is None:
        raise EnrolmentError("team", f"no active team named {team!r} (see `doorway teams list`)")


def consent_elements(program: Program, method: str) -> dict[str, str]:
    """What the spoken permission covered, stored with the consent (no personal data)."""
    return {
        "discloser": program.organisation,
        "information": "phone number or chat, language, a name to use",
        "purpose": "follow-up text messages and an offer of a peer recovery coach",
        "obtained": method,
        "revocation": "reply STOP to any message, or ask any staff member",
        "expires": "when the person replies STOP or the follow-up ends",
    }


def enroll(
    services: Services,
    session: Session,
    valid: ValidEnrolment,
    *,
    source: Source,
    now: dt.datetime,
) -> Enrolled:
    """Store the enrolment and set the first step's timer; the same person and event again
    returns the enrolment already made."""
    program = services.program
    identity = find_or_create_identity(session, services.vault, valid.channel, valid.address, now)
    contact = lock_contact(session, identity.contact_id)
    session.refresh(identity)
    existing = session.scalar(
        select(FollowupEnrolment).where(
            FollowupEnrolment.identity_id == identity.id,
            FollowupEnrolment.event_at == valid.event_at,
        )
    )
    if existing is not None:
        return Enrolled(existing, created=False)
    if identity.opted_out:
        # Their STOP stands until they text START themselves.
        raise EnrolmentError("phone", "this number replied STOP; it must text START first")
    contact.language = valid.language
    if valid.name and not contact.display_name:
        contact.display_name = valid.name
    consent = Consent(
        contact_id=contact.id,
        granted=True,
        version=program.consent_version,
        language=valid.language,
        channel=valid.channel,
        elements=consent_elements(program, valid.consent_method),
        given_at=now,
    )
    session.add(consent)
    session.flush()
    enrolment = FollowupEnrolment(
        contact_id=contact.id,
        identity_id=identity.id,
        team=valid.team,
        pathway=valid.pathway,
        language=valid.language,
        time_zone=valid.time_zone,
        event_at=valid.event_at,
        consent_method=valid.consent_method,
        consent_by=valid.consent_by,
        consent_id=consent.id,
        display_name=valid.name,
        notes=valid.notes,
        source=source,
        status="active",
        created_at=now,
        updated_at=now,
    )
    session.add(enrolment)
    session.flush()
    record(
        session,
        "followup_enrolled",
        now,
        contact_id=contact.id,
        enrolment_id=enrolment.id,
        team=valid.team,
        pathway=valid.pathway,
        language=valid.language,
        channel=valid.channel,
        source=source,
        consent_method=valid.consent_method,
        hours_after_event=round((now - valid.event_at).total_seconds() / 3600, 1),
    )
    schedule_next(services, session, enrolment, identity, 0, now)
    return Enrolled(enrolment, created=True)


def enroll_one(
    services: Services,
    fields: EnrolmentFields,
    *,
    team: str,
    source: Source,
) -> Enrolled:
    """Validate and enrol in one transaction, then wake the worker for the first text."""
    now = services.clock()
    valid = validate(services.program, fields, team=team, now=now)
    for attempt in range(2):
        try:
            with transaction(services.sessions) as session:
                check_team(session, team)
                result = enroll(services, session, valid, source=source, now=now)
            break
        except IntegrityError:
            # A concurrent copy of the same enrolment won the insert: return that one.
            if attempt == 1:
                raise
    if result.created:
        services.wake_outbox()
    return result

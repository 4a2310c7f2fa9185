"""Outcome figures for the dashboard, the CSV export and `doorway report`: one computation."""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import Conversation, Event, FollowupEnrolment, Handoff, HandoffOffer, Responder

STAGES = ("contacts", "intake", "requested", "accepted", "connected", "completed")
INTAKE_KINDS = ("consent_given", "consent_declined", "handoff_requested")
FOLLOWUP_DIALOGUE = "followup"
NONE = "-"


@dataclass(frozen=True)
class Filters:
    """A date range (inclusive, program time zone) and optionally one pathway."""

    start: dt.date
    end: dt.date
    tz: ZoneInfo
    pathway: str | None = None

    @property
    def since(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time(), self.tz).astimezone(dt.UTC)

    @property
    def until(self) -> dt.datetime:
        following = self.end + dt.timedelta(days=1)
        return dt.datetime.combine(following, dt.time(), self.tz).astimezone(dt.UTC)


@dataclass(frozen=True)
class Timing:
    """Seconds: how many, the median and the 90th percentile (nearest rank)."""

    count: int
    median: float | None
    p90: float | None

    @classmethod
    def of(cls, values: Iterable[float]) -> Timing:
        ordered = sorted(values)
        if not ordered:
            return cls(0, None, None)
        p90 = ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]
        return cls(len(ordered), float(statistics.median(ordered)), float(p90))


@dataclass(frozen=True)
class CoachRow:
    responder_id: int
    name: str
    offers: int
    accepted: int
    declined: int
    expired: int
    answer: Timing

    @property
    def acceptance(self) -> float | None:
        return self.accepted / self.offers if self.offers else None


@dataclass(frozen=True)
class Scores:
    count: int
    mean: float | None
    spread: dict[int, int]

    @classmethod
    def of(cls, values: list[int]) -> Scores:
        spread = {n: values.count(n) for n in range(1, 6)}
        mean = round(statistics.fmean(values), 2) if values else None
        return cls(len(values), mean, spread)


@dataclass
class Figures:
    filters: Filters
    total: dict[str, int] = field(default_factory=dict)
    by_pathway: dict[str, dict[str, int]] = field(default_factory=dict)
    by_language: dict[str, dict[str, int]] = field(default_factory=dict)
    by_code: dict[str, dict[str, int]] = field(default_factory=dict)
    by_team: dict[str, dict[str, int]] = field(default_factory=dict)
    over_time: list[tuple[dt.date, dict[str, int]]] = field(default_factory=list)
    time_to_accept: Timing = Timing(0, None, None)
    time_to_contact: Timing = Timing(0, None, None)
    followup: dict[str, int] = field(default_factory=dict)
    opt_outs: int = 0
    crisis: int = 0
    crisis_answered: int = 0
    crisis_response: Timing = Timing(0, None, None)
    coaches: list[CoachRow] = field(default_factory=list)
    person_satisfaction: Scores = Scores(0, None, {})
    responder_rating: Scores = Scores(0, None, {})


@dataclass(frozen=True)
class _Case:
    """One conversation of the cohort and how far it went."""

    contact_id: int
    pathway: str
    language: str
    code: str
    team: str
    stage: int  # index into STAGES reached


def compute(session: Session, filters: Filters) -> Figures:
    """Everything the dashboard shows, from conversations started in the range (the cohort)."""
    figures = Figures(filters)
    conversations = _cohort(session, filters)
    ids = [c.id for c in conversations]
    intake = _intake_conversations(session, ids)
    handoffs = _handoffs(session, ids)
    cases = [_case(c, c.id in intake, handoffs.get(c.id)) for c in conversations]
    figures.total = _funnel(cases)
    figures.by_pathway = _grouped(cases, lambda c: c.pathway)
    figures.by_language = _grouped(cases, lambda c: c.language)
    figures.by_code = _grouped(cases, lambda c: c.code)
    figures.by_team = _grouped(cases, lambda c: c.team)
    figures.over_time = _over_time(conversations, list(handoffs.values()), filters)
    chosen = list(handoffs.values())
    figures.time_to_accept = Timing.of(
        (h.accepted_at - h.created_at).total_seconds() for h in chosen if h.accepted_at
    )
    figures.time_to_contact = Timing.of(
        (h.connected_at - h.created_at).total_seconds() for h in chosen if h.connected_at
    )
    contacts = {c.contact_id for c in conversations} if filters.pathway else None
    figures.followup = _followup(session, filters, conversations, handoffs)
    events = _events(session, filters, ("opt_out", "crisis_detected"), contacts)
    figures.opt_outs = len({e.contact_id for e in events if e.kind == "opt_out"})
    _crisis(session, figures, [e for e in events if e.kind == "crisis_detected"])
    figures.coaches = _coaches(session, filters)
    ratings = _events(session, filters, ("satisfaction", "responder_rating"), contacts)
    figures.person_satisfaction = Scores.of(_scores(ratings, "satisfaction"))
    figures.responder_rating = Scores.of(_scores(ratings, "responder_rating"))
    return figures


def _cohort(session: Session, filters: Filters) -> list[Conversation]:
    query = select(Conversation).where(
        Conversation.started_at >= filters.since, Conversation.started_at < filters.until
    )
    if filters.pathway:
        query = query.where(Conversation.pathway == filters.pathway)
    return list(session.scalars(query.order_by(Conversation.id)))


def _intake_conversations(session: Session, ids: list[int]) -> set[int]:
    found: set[int] = set()
    for chunk in _chunks(ids):
        found.update(
            i
            for i in session.scalars(
                select(Event.conversation_id).where(
                    Event.kind.in_(INTAKE_KINDS), Event.conversation_id.in_(chunk)
                )
            )
            if i is not None
        )
    return found


def _handoffs(session: Session, ids: list[int]) -> dict[int, Handoff]:
    """The furthest-along handoff of each conversation (a person may ask twice)."""
    found: dict[int, Handoff] = {}
    for chunk in _chunks(ids):
        for handoff in session.scalars(
            select(Handoff).where(Handoff.conversation_id.in_(chunk)).order_by(Handoff.id)
        ):
            assert handoff.conversation_id is not None
            earlier = found.get(handoff.conversation_id)
            if earlier is None or _reached(handoff) >= _reached(earlier):
                found[handoff.conversation_id] = handoff
    return found


def _chunks(ids: list[int], size: int = 500) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _reached(handoff: Handoff) -> int:
    if handoff.status == "completed":
        return STAGES.index("completed")
    if handoff.connected_at is not None:
        return STAGES.index("connected")
    if handoff.accepted_at is not None:
        return STAGES.index("accepted")
    return STAGES.index("requested")


def _case(conversation: Conversation, intake: bool, handoff: Handoff | None) -> _Case:
    stage = _reached(handoff) if handoff else STAGES.index("intake") if intake else 0
    return _Case(
        conversation.contact_id,
        conversation.pathway,
        conversation.language,
        conversation.referral_code or NONE,
        conversation.referral_team or NONE,
        stage,
    )


def _funnel(cases: Iterable[_Case]) -> dict[str, int]:
    """People (distinct contacts) who reached each stage."""
    best: dict[int, int] = {}
    for case in cases:
        best[case.contact_id] = max(best.get(case.contact_id, 0), case.stage)
    return {stage: sum(1 for s in best.values() if s >= i) for i, stage in enumerate(STAGES)}


def _grouped(cases: list[_Case], key: Callable[[_Case], str]) -> dict[str, dict[str, int]]:
    groups: dict[str, list[_Case]] = defaultdict(list)
    for case in cases:
        groups[key(case)].append(case)
    return {name: _funnel(groups[name]) for name in sorted(groups)}


def _bucket(moment: dt.datetime, filters: Filters, weekly: bool) -> dt.date:
    day = moment.astimezone(filters.tz).date()
    return day - dt.timedelta(days=day.weekday()) if weekly else day


def _over_time(
    conversations: list[Conversation], handoffs: list[Handoff], filters: Filters
) -> list[tuple[dt.date, dict[str, int]]]:
    """Per day, or per week (from Monday) when the range is longer than two months."""
    weekly = (filters.end - filters.start).days > 62
    step = dt.timedelta(days=7 if weekly else 1)
    first = _bucket(filters.since, filters, weekly)
    series: dict[dt.date, dict[str, set[int]]] = {}
    day = first
    while day <= filters.end:
        series[day] = {k: set() for k in ("contacts", "requested", "accepted", "completed")}
        day += step

    def add(moment: dt.datetime | None, kind: str, contact: int) -> None:
        if moment is not None and filters.since <= moment < filters.until:
            series.setdefault(_bucket(moment, filters, weekly), {}).setdefault(kind, set()).add(
                contact
            )

    for conversation in conversations:
        add(conversation.started_at, "contacts", conversation.contact_id)
    for handoff in handoffs:
        add(handoff.created_at, "requested", handoff.contact_id)
        add(handoff.accepted_at, "accepted", handoff.contact_id)
        if handoff.status == "completed":
            add(handoff.closed_at, "completed", handoff.contact_id)
    return [(d, {k: len(v) for k, v in series[d].items()}) for d in sorted(series)]


def _events(
    session: Session, filters: Filters, kinds: tuple[str, ...], contacts: set[int] | None
) -> list[Event]:
    rows = session.scalars(
        select(Event)
        .where(
            Event.kind.in_(kinds),
            Event.created_at >= filters.since,
            Event.created_at < filters.until,
        )
        .order_by(Event.id)
    )
    return [e for e in rows if contacts is None or e.contact_id in contacts]


def _followup(
    session: Session,
    filters: Filters,
    conversations: list[Conversation],
    handoffs: dict[int, Handoff],
) -> dict[str, int]:
    """Enrolled, texts sent, people who replied, handoffs that began with a follow-up."""
    kinds = ("followup_enrolled", "followup_step_sent", "followup_replied")
    events = _events(session, filters, kinds, None)
    if filters.pathway:
        enrolled = set(
            session.scalars(
                select(FollowupEnrolment.contact_id).where(
                    FollowupEnrolment.pathway == filters.pathway
                )
            )
        )
        events = [e for e in events if e.contact_id in enrolled]
    from_followup = sum(
        1 for c in conversations if c.dialogue_id == FOLLOWUP_DIALOGUE and c.id in handoffs
    )
    return {
        "enrolled": sum(1 for e in events if e.kind == "followup_enrolled"),
        "sent": sum(1 for e in events if e.kind == "followup_step_sent"),
        "replied": len({e.contact_id for e in events if e.kind == "followup_replied"}),
        "handoffs": from_followup,
    }


def _crisis(session: Session, figures: Figures, crises: list[Event]) -> None:
    """Time from a crisis message to a human accepting that person's handoff."""
    figures.crisis = len(crises)
    contacts = {e.contact_id for e in crises if e.contact_id is not None}
    accepted: dict[int, list[dt.datetime]] = defaultdict(list)
    if contacts:
        for event in session.scalars(
            select(Event)
            .where(Event.kind == "handoff_accepted", Event.contact_id.in_(contacts))
            .order_by(Event.created_at)
        ):
            assert event.contact_id is not None
            accepted[event.contact_id].append(event.created_at)
    waits = []
    for crisis in crises:
        later = [t for t in accepted.get(crisis.contact_id or -1, []) if t >= crisis.created_at]
        if later:
            waits.append((later[0] - crisis.created_at).total_seconds())
    figures.crisis_answered = len(waits)
    figures.crisis_response = Timing.of(waits)


def _coaches(session: Session, filters: Filters) -> list[CoachRow]:
    query = (
        select(HandoffOffer, Responder.display_name)
        .join(Responder, Responder.id == HandoffOffer.responder_id)
        .where(HandoffOffer.offered_at >= filters.since, HandoffOffer.offered_at < filters.until)
    )
    if filters.pathway:
        query = query.join(Handoff, Handoff.id == HandoffOffer.handoff_id).where(
            Handoff.pathway == filters.pathway
        )
    offers: dict[int, list[HandoffOffer]] = defaultdict(list)
    names: dict[int, str] = {}
    for offer, name in session.execute(query):
        offers[offer.responder_id].append(offer)
        names[offer.responder_id] = name
    rows = []
    for responder_id in sorted(offers, key=lambda i: names[i]):
        mine = offers[responder_id]
        answered = [
            (o.answered_at - o.offered_at).total_seconds()
            for o in mine
            if o.answered_at is not None and o.status in ("accepted", "declined")
        ]
        rows.append(
            CoachRow(
                responder_id,
                names[responder_id],
                offers=len(mine),
                accepted=sum(1 for o in mine if o.status == "accepted"),
                declined=sum(1 for o in mine if o.status == "declined"),
                expired=sum(1 for o in mine if o.status == "expired"),
                answer=Timing.of(answered),
            )
        )
    return rows


def _scores(events: list[Event], kind: str) -> list[int]:
    found = []
    for event in events:
        score = event.data.get("score") if event.kind == kind else None
        if isinstance(score, int) and 1 <= score <= 5:
            found.append(score)
    return found

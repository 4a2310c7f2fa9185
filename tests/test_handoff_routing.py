"""Routing rules as tables: language, skills, capacity, on-call, fairness."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.handoff.routing import ResponderView, RouteRequest, candidates, supervisors, wanted_skills

T0 = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)


def r(id: int, langs: str = "en", skills: str = "", **kw: object) -> ResponderView:
    return ResponderView(
        id=id,
        role=str(kw.pop("role", "peer_recovery_coach")),
        languages=frozenset(langs.split()),
        skills=frozenset(skills.split()),
        **kw,  # type: ignore[arg-type]
    )


TEAM = [
    r(1, "en es", "moud"),
    r(2, "en", "housing", last_offered_at=T0 - dt.timedelta(hours=1)),
    r(3, "en", "", last_offered_at=T0 - dt.timedelta(hours=5)),
    r(4, "vi", "moud"),
    r(5, "en", "moud", open_handoffs=3, capacity=3),
    r(6, "en", "moud", active=False),
    r(7, "fr", "", interpreter=True),
    r(8, "en es", "", role="supervisor"),
]
ALL_ON = {1, 2, 3, 4, 5, 6, 7, 8}

CASES = [
    # (label, request, on call, expected order of ids)
    (
        "english: speakers before interpreters, never offered first, then least recently",
        RouteRequest("en"),
        ALL_ON,
        [1, 3, 2, 7],
    ),
    ("spanish speakers or interpreter", RouteRequest("es"), ALL_ON, [1, 7]),
    ("es-MX counts as es", RouteRequest("es-MX"), ALL_ON, [1, 7]),
    ("vietnamese", RouteRequest("vi"), ALL_ON, [4, 7]),
    ("skill match first", RouteRequest("en", frozenset({"housing"})), ALL_ON, [2, 1, 3, 7]),
    ("moud", RouteRequest("en", frozenset({"moud"})), ALL_ON, [1, 3, 2, 7]),
    ("off shift excluded", RouteRequest("en"), {2, 3}, [3, 2]),
    ("declined excluded", RouteRequest("en", exclude=frozenset({1, 7})), ALL_ON, [3, 2]),
    ("nobody speaks it, no interpreter on", RouteRequest("ko"), {1, 2, 3}, []),
    ("a speaker beats an interpreter", RouteRequest("fr"), {7}, [7]),
]


@pytest.mark.parametrize(
    ("label", "request_", "on_call", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_candidates(
    label: str, request_: RouteRequest, on_call: set[int], expected: list[int]
) -> None:
    assert [c.id for c in candidates(request_, TEAM, on_call)] == expected


def test_supervisors_on_call() -> None:
    assert [s.id for s in supervisors(TEAM, ALL_ON)] == [8]
    assert supervisors(TEAM, {1}) == []


SKILLS = [
    (None, "moud", "routine", {"moud"}),
    ("talk_today", None, "urgent", {"mental_health"}),
    (None, "housing", "crisis", {"housing", "mental_health"}),
    ("schedule", None, "scheduled", set()),
]


@pytest.mark.parametrize(("help_kind", "topic", "urgency", "skills"), SKILLS)
def test_wanted_skills(
    help_kind: str | None, topic: str | None, urgency: str, skills: set[str]
) -> None:
    assert wanted_skills(help_kind, topic, urgency) == skills

"""Who gets offered a handoff, in what order. Pure: plain data in, an ordered list out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

#: What each kind of help asks of a responder (preferred, not required: nobody is left
#: without an offer because no one on call has a skill).
SKILLS_FOR_HELP: dict[str, frozenset[str]] = {
    "moud": frozenset({"moud"}),
    "harm_reduction": frozenset({"harm_reduction"}),
    "housing": frozenset({"housing"}),
    "treatment": frozenset({"treatment"}),
    "crisis": frozenset({"mental_health"}),
}
RESPONDER_ROLES = ("peer_recovery_coach", "clinician", "on_call_provider", "supervisor")


@dataclass(frozen=True)
class ResponderView:
    """What routing needs to know about a responder."""

    id: int
    role: str
    languages: frozenset[str]
    skills: frozenset[str] = frozenset()
    interpreter: bool = False
    capacity: int = 3
    open_handoffs: int = 0
    active: bool = True
    last_offered_at: dt.datetime | None = None


@dataclass(frozen=True)
class RouteRequest:
    language: str
    wanted_skills: frozenset[str] = field(default_factory=frozenset)
    exclude: frozenset[int] = field(default_factory=frozenset)  # already declined or timed out


def base_language(code: str) -> str:
    """'es-MX' and 'es_MX' speak 'es'; 'zh_Hans' stays 'zh_Hans' (scripts differ)."""
    code = code.replace("-", "_")
    return code if code.startswith("zh") else code.split("_")[0]


def speaks(responder: ResponderView, language: str) -> bool:
    wanted = base_language(language)
    return responder.interpreter or any(
        base_language(lang) == wanted for lang in responder.languages
    )


def wanted_skills(help_kind: str | None, info_topic: str | None, urgency: str) -> frozenset[str]:
    skills: set[str] = set()
    for key in (help_kind, info_topic):
        if key:
            skills |= SKILLS_FOR_HELP.get(key, frozenset())
    if urgency in ("crisis", "urgent"):
        skills |= SKILLS_FOR_HELP["crisis"]
    return frozenset(skills)


def candidates(
    request: RouteRequest, responders: Iterable[ResponderView], on_call: set[int]
) -> list[ResponderView]:
    """Active, on call, speaks the language (or works with an interpreter), under capacity,
    not a supervisor; best skill match first, then whoever was offered least recently."""
    eligible = [
        r
        for r in responders
        if r.active
        and r.id in on_call
        and r.id not in request.exclude
        and r.role != "supervisor"
        and speaks(r, request.language)
        and r.open_handoffs < r.capacity
    ]
    never = dt.datetime.min.replace(tzinfo=dt.UTC)
    return sorted(
        eligible,
        key=lambda r: (
            -len(r.skills & request.wanted_skills),
            not any(base_language(x) == base_language(request.language) for x in r.languages),
            r.last_offered_at or never,
            r.id,
        ),
    )


def supervisors(responders: Iterable[ResponderView], on_call: set[int]) -> list[ResponderView]:
    """Supervisors on call, for escalation."""
    return sorted(
        (r for r in responders if r.active and r.role == "supervisor" and r.id in on_call),
        key=lambda r: r.id,
    )

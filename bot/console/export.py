"""De-identified rows of the outcome figures for CSV and JSON: small counts are suppressed."""

from __future__ import annotations

import csv
import io
from typing import Any

from bot.console.outcomes import Figures, Scores, Timing

#: Cells counting fewer people than this (but more than none) are shown as "<5".
SUPPRESS_BELOW = 5
HEADER = ("section", "group", "measure", "value")
Row = tuple[str, str, str, str]


def people(value: int, *, suppress: bool) -> str:
    return f"<{SUPPRESS_BELOW}" if suppress and 0 < value < SUPPRESS_BELOW else str(value)


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.0f}"


def _timing(section: str, timing: Timing, *, suppress: bool) -> list[Row]:
    hidden = suppress and 0 < timing.count < SUPPRESS_BELOW
    return [
        (section, "", "count", people(timing.count, suppress=suppress)),
        (section, "", "median_seconds", "" if hidden else _seconds(timing.median)),
        (section, "", "p90_seconds", "" if hidden else _seconds(timing.p90)),
    ]


def _scores(section: str, scores: Scores, *, suppress: bool) -> list[Row]:
    hidden = suppress and 0 < scores.count < SUPPRESS_BELOW
    mean = "" if hidden or scores.mean is None else f"{scores.mean:.2f}"
    rows: list[Row] = [
        (section, "", "count", people(scores.count, suppress=suppress)),
        (section, "", "mean", mean),
    ]
    rows += [
        (section, str(n), "count", people(c, suppress=suppress)) for n, c in scores.spread.items()
    ]
    return rows


def rows(figures: Figures, *, suppress: bool = True) -> list[Row]:
    """Every figure as (section, group, measure, value); no names, numbers or messages."""
    out: list[Row] = [
        ("range", "", "from", figures.filters.start.isoformat()),
        ("range", "", "to", figures.filters.end.isoformat()),
        ("range", "", "pathway", figures.filters.pathway or "all"),
    ]
    out += [("funnel", "all", k, people(v, suppress=suppress)) for k, v in figures.total.items()]
    for section, groups in (
        ("funnel_by_pathway", figures.by_pathway),
        ("funnel_by_language", figures.by_language),
        ("funnel_by_referral_code", figures.by_code),
        ("funnel_by_team", figures.by_team),
    ):
        for group, stages in groups.items():
            out += [(section, group, k, people(v, suppress=suppress)) for k, v in stages.items()]
    for day, counts in figures.over_time:
        out += [
            ("over_time", day.isoformat(), k, people(v, suppress=suppress))
            for k, v in counts.items()
        ]
    out += _timing("time_to_accept", figures.time_to_accept, suppress=suppress)
    out += _timing("time_to_first_contact", figures.time_to_contact, suppress=suppress)
    for key, value in figures.followup.items():
        counted = value if key == "sent" else people(value, suppress=suppress)
        out.append(("followup", "", key, str(counted)))
    out.append(("opt_outs", "", "people", people(figures.opt_outs, suppress=suppress)))
    out.append(("crisis", "", "events", people(figures.crisis, suppress=suppress)))
    out.append(("crisis", "", "answered", people(figures.crisis_answered, suppress=suppress)))
    out += _timing("crisis_to_human", figures.crisis_response, suppress=suppress)
    for coach in figures.coaches:
        group = f"responder-{coach.responder_id}"  # staff, but still no names in a file
        rate = "" if coach.acceptance is None else f"{coach.acceptance:.2f}"
        out += [
            ("coaches", group, "offers", str(coach.offers)),
            ("coaches", group, "accepted", str(coach.accepted)),
            ("coaches", group, "declined", str(coach.declined)),
            ("coaches", group, "expired", str(coach.expired)),
            ("coaches", group, "acceptance_rate", rate),
            ("coaches", group, "median_answer_seconds", _seconds(coach.answer.median)),
        ]
    out += _scores("satisfaction_person", figures.person_satisfaction, suppress=suppress)
    out += _scores("satisfaction_responder", figures.responder_rating, suppress=suppress)
    return out


def to_csv(table: list[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(table)
    return buffer.getvalue()


def to_json(table: list[Row]) -> list[dict[str, Any]]:
    return [dict(zip(HEADER, row, strict=True)) for row in table]

"""Import enrolments from a CSV file: every row is checked first, and one bad row imports none."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from bot.db import transaction
from bot.errors import UserError
from bot.followup.enrolment import (
    EnrolmentError,
    ValidEnrolment,
    check_team,
    enroll,
    parse_fields,
    validate,
)
from bot.services import Services

COLUMNS = (
    "phone",
    "telegram_chat_id",
    "language",
    "event_time",
    "team",
    "consent",
    "consent_by",
    "name",
    "notes",
    "time_zone",
    "pathway",
)
REQUIRED = ("language", "event_time", "team", "consent", "consent_by")
MAX_ROWS = 10_000
#: Enough problems to fix a file in one go, without scrolling past a screenful.
SHOWN_PROBLEMS = 20


@dataclass(frozen=True)
class RowProblem:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class ImportRejected(UserError):
    """The file has problems; nothing was imported. Each problem names its line."""

    def __init__(self, problems: list[RowProblem]) -> None:
        shown = "\n".join(str(p) for p in problems[:SHOWN_PROBLEMS])
        more = len(problems) - SHOWN_PROBLEMS
        tail = f"\n... and {more} more" if more > 0 else ""
        super().__init__(f"nothing was imported; fix these rows:\n{shown}{tail}")
        self.problems = problems


@dataclass(frozen=True)
class ImportReport:
    created: int
    already: int


def read_rows(text: str) -> list[tuple[int, dict[str, str]]]:
    """The rows with the line each starts on; a wrong header is a problem on line 1."""
    reader = csv.DictReader(io.StringIO(text), strict=True)
    header = [h.strip() for h in reader.fieldnames or []]
    unknown = [h for h in header if h not in COLUMNS]
    missing = [c for c in REQUIRED if c not in header]
    if not ("phone" in header or "telegram_chat_id" in header):
        missing.append("phone")
    if unknown or missing:
        parts = []
        if missing:
            parts.append(f"missing column(s): {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown column(s): {', '.join(unknown)}")
        raise ImportRejected([RowProblem(1, "; ".join(parts))])
    reader.fieldnames = header
    rows: list[tuple[int, dict[str, str]]] = []
    line = reader.line_num + 1
    try:
        for row in reader:
            if None in row:
                raise ImportRejected([RowProblem(line, "more values than columns")])
            if any((value or "").strip() for value in row.values()):
                rows.append((line, {k: (v or "").strip() for k, v in row.items()}))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise ImportRejected([RowProblem(reader.line_num, f"not valid CSV ({exc})")]) from None
    if len(rows) > MAX_ROWS:
        raise ImportRejected([RowProblem(1, f"at most {MAX_ROWS} rows per file")])
    return rows


def import_csv(services: Services, path: Path) -> ImportReport:
    """Check every row, then enrol them all in one transaction (or none)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read the file ({type(exc).__name__})") from None
    rows = read_rows(text)
    if not rows:
        raise ImportRejected([RowProblem(2, "the file has no rows")])
    now = services.clock()
    problems: list[RowProblem] = []
    checked: list[tuple[int, ValidEnrolment]] = []
    with transaction(services.sessions) as session:
        teams_ok: dict[str, str | None] = {}
        for line, row in rows:
            try:
                team = row.get("team", "")
                if team not in teams_ok:
                    try:
                        check_team(session, team)
                        teams_ok[team] = None
                    except EnrolmentError as exc:
                        teams_ok[team] = str(exc)
                if teams_ok[team] is not None:
                    raise EnrolmentError("team", str(teams_ok[team]).removeprefix("team: "))
                fields = parse_fields({k: v for k, v in row.items() if k != "team"})
                valid = validate(services.program, fields, team=team, now=now)
                checked.append((line, valid))
            except EnrolmentError as exc:
                problems.append(RowProblem(line, str(exc)))
    if problems:
        raise ImportRejected(problems)
    created = already = 0
    with transaction(services.sessions) as session:
        for line, valid in checked:
            try:
                result = enroll(services, session, valid, source="csv", now=now)
            except EnrolmentError as exc:
                # Found only with the database (an opted-out number): the whole file waits.
                raise ImportRejected([RowProblem(line, str(exc))]) from None
            created += result.created
            already += not result.created
    if created:
        services.wake_outbox()
    return ImportReport(created=created, already=already)

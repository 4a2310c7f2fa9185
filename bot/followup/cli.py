"""`doorway followup ...` and `doorway teams ...`: enrol, import, list and stop; team keys."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.db import transaction
from bot.errors import UserError
from bot.followup.csvimport import import_csv
from bot.followup.enrolment import enroll_one, parse_fields
from bot.followup.stops import stop
from bot.followup.teams import add_team, clean_name, disable_team
from bot.models import ChannelIdentity, FollowupEnrolment, Team
from bot.services import Services


def _services() -> Services:
    from bot.cli import command_services

    return command_services()


def _when(services: Services, moment: dt.datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(services.program.tz).strftime("%Y-%m-%d %H:%M %Z")


# --- followup --------------------------------------------------------------------------------


def cmd_enroll(args: argparse.Namespace) -> int:
    services = _services()
    values = {
        "phone": args.phone,
        "telegram_chat_id": args.telegram,
        "language": args.language,
        "event_time": args.event_time,
        "consent": args.consent,
        "consent_by": args.consent_by,
        "name": args.name,
        "notes": args.notes,
        "time_zone": args.time_zone,
        "pathway": args.pathway,
    }
    fields = parse_fields({k: v for k, v in values.items() if v is not None})
    result = enroll_one(services, fields, team=clean_name(args.team), source="cli")
    enrolment = result.enrolment
    verb = "Enrolled" if result.created else "Already enrolled for this event"
    print(f"{verb}: follow-up {enrolment.id} ({enrolment.status}).")
    if enrolment.next_step is not None:
        day = services.program.followup.cadence_days[enrolment.next_step]
        print(f"First text: day {day}, {_when(services, enrolment.next_due_at)}.")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    services = _services()
    report = import_csv(services, Path(args.file))
    print(f"Imported {report.created} enrolment(s); {report.already} were already enrolled.")
    return 0


def rows(services: Services, *, status: str | None, show_contact: bool) -> list[dict[str, Any]]:
    """One dict per enrolment; contact details only when asked for."""
    cadence = services.program.followup.cadence_days
    with services.read_sessions() as session:
        query = select(FollowupEnrolment).order_by(FollowupEnrolment.id)
        if status:
            query = query.where(FollowupEnrolment.status == status)
        out: list[dict[str, Any]] = []
        for enrolment in session.scalars(query):
            step = enrolment.next_step
            row: dict[str, Any] = {
                "id": enrolment.id,
                "team": enrolment.team,
                "status": enrolment.status,
                "stop_reason": enrolment.stop_reason,
                "language": enrolment.language,
                "next_step": None if step is None else f"day {cadence[step]}",
                "next_due_at": enrolment.next_due_at.isoformat() if enrolment.next_due_at else None,
            }
            if show_contact:
                identity = session.get(ChannelIdentity, enrolment.identity_id)
                row["channel"] = identity.channel if identity else None
                row["address"] = identity.address if identity else None
                row["name"] = enrolment.display_name
            out.append(row)
    return out


def cmd_list(args: argparse.Namespace) -> int:
    services = _services()
    found = rows(services, status=args.status, show_contact=args.show_contact)
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    if not found:
        print("No follow-ups.")
        return 0
    columns = ["id", "team", "status", "language", "next_step", "next_due_at"]
    if args.show_contact:
        columns += ["address", "name"]
    table = [[str(row.get(c) if row.get(c) is not None else "-") for c in columns] for row in found]
    widths = [max(len(c), *(len(r[i]) for r in table)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for line in table:
        print("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)))
    return 0


def cmd_stop(args: argparse.Namespace) -> int:
    services = _services()
    now = services.clock()
    with transaction(services.sessions) as session:
        enrolment = session.get(FollowupEnrolment, args.id)
        if enrolment is None:
            raise UserError(f"no follow-up with id {args.id}")
        changed = stop(session, enrolment, "staff", now)
        status = enrolment.status
    print(f"Follow-up {args.id} stopped." if changed else f"Follow-up {args.id} is {status}.")
    return 0


# --- teams -----------------------------------------------------------------------------------


def cmd_teams_add(args: argparse.Namespace) -> int:
    services = _services()
    with transaction(services.sessions) as session:
        team, key = add_team(session, args.name, services.clock())
        name = team.name
    print(f"Team {name!r} added. Its API key (shown only this once; keep it secret):")
    print(key)
    return 0


def cmd_teams_list(args: argparse.Namespace) -> int:
    services = _services()
    with services.read_sessions() as session:
        teams = [
            {"name": t.name, "active": t.active, "created_at": t.created_at.isoformat()}
            for t in session.scalars(select(Team).order_by(Team.name))
        ]
    if args.json:
        print(json.dumps(teams, indent=2))
    elif not teams:
        print("No teams. Add one with `doorway teams add NAME`.")
    else:
        for team in teams:
            print(f"{team['name']}  {'active' if team['active'] else 'disabled'}")
    return 0


def cmd_teams_disable(args: argparse.Namespace) -> int:
    services = _services()
    with transaction(services.sessions) as session:
        team = disable_team(session, args.name)
        name = team.name
    print(f"Team {name!r} disabled; its API key no longer works.")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    followup = sub.add_parser("followup", help="follow-up texts after an overdose response")
    actions = followup.add_subparsers(dest="followup_command", required=True)

    enroll = actions.add_parser("enroll", help="enrol one person")
    address = enroll.add_mutually_exclusive_group(required=True)
    address.add_argument("--phone", help="mobile number (E.164 or national)")
    address.add_argument("--telegram", help="Telegram chat id")
    enroll.add_argument("--language", required=True, help="e.g. en, es")
    enroll.add_argument(
        "--event-time", required=True, help="ISO time, e.g. 2026-03-02T02:00 (local) or ...Z"
    )
    enroll.add_argument("--team", required=True)
    enroll.add_argument("--consent", required=True, choices=("scene", "hospital", "phone"))
    enroll.add_argument("--consent-by", required=True, help="who obtained consent")
    enroll.add_argument("--name", help="a name to use in texts")
    enroll.add_argument("--notes", help="for the team only (stored encrypted)")
    enroll.add_argument("--time-zone", help="IANA zone, if not the area code's")
    enroll.add_argument("--pathway")
    enroll.set_defaults(func=cmd_enroll)

    importing = actions.add_parser("import", help="enrol everyone in a CSV file (all or none)")
    importing.add_argument("file")
    importing.set_defaults(func=cmd_import)

    listing = actions.add_parser("list", help="list enrolments")
    listing.add_argument("--json", action="store_true")
    listing.add_argument("--status", choices=("active", "stopped", "completed"))
    listing.add_argument(
        "--show-contact", action="store_true", help="include phone numbers and names"
    )
    listing.set_defaults(func=cmd_list)

    stopping = actions.add_parser("stop", help="stop an enrolment's future texts")
    stopping.add_argument("id", type=int)
    stopping.set_defaults(func=cmd_stop)

    teams = sub.add_parser("teams", help="referring teams and their API keys")
    team_actions = teams.add_subparsers(dest="teams_command", required=True)
    add = team_actions.add_parser("add", help="add a team and print its API key once")
    add.add_argument("name")
    add.set_defaults(func=cmd_teams_add)
    team_list = team_actions.add_parser("list", help="list teams")
    team_list.add_argument("--json", action="store_true")
    team_list.set_defaults(func=cmd_teams_list)
    disable = team_actions.add_parser("disable", help="disable a team's API key")
    disable.add_argument("name")
    disable.set_defaults(func=cmd_teams_disable)


__all__ = ["register", "rows"]

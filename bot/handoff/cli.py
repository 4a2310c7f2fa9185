"""`doorway responders|shifts|oncall`: manage who takes handoffs and when."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

from sqlalchemy import select

from bot.db import transaction
from bot.handoff.roster import (
    RosterError,
    ShiftRow,
    add_weekly,
    check_role,
    find_responder,
    parse_time,
    parse_weekday,
    read_shift_csv,
    rotas,
)
from bot.handoff.routing import RESPONDER_ROLES
from bot.handoff.schedule import on_call_ids
from bot.models import Event, Handoff, Responder, Shift
from bot.services import Services


def _services() -> Services:
    from bot.cli import command_services

    return command_services()


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def cmd_responders_add(args: argparse.Namespace) -> int:
    services = _services()
    with transaction(services.sessions) as session:
        if session.scalar(select(Responder.id).where(Responder.name == args.name)):
            raise RosterError(f"a responder named {args.name!r} exists")
        session.add(
            Responder(
                name=args.name,
                display_name=args.shown_as or args.name.split()[0],
                role=check_role(args.role),
                languages=_split(args.languages) or ["en"],
                skills=_split(args.skills),
                interpreter=args.interpreter,
                capacity=args.capacity,
                sms_phone=args.sms,
                sms_index=services.vault.blind_index("sms", args.sms) if args.sms else None,
                active=True,
                created_at=services.clock(),
            )
        )
    print(f"Added {args.name}.")
    return 0


def cmd_responders_update(args: argparse.Namespace) -> int:
    services = _services()
    with transaction(services.sessions) as session:
        responder = find_responder(session, args.name)
        if args.role:
            responder.role = check_role(args.role)
        if args.languages is not None:
            responder.languages = _split(args.languages)
        if args.skills is not None:
            responder.skills = _split(args.skills)
        if args.capacity is not None:
            responder.capacity = args.capacity
        if args.shown_as:
            responder.display_name = args.shown_as
        if args.sms is not None:
            responder.sms_phone = args.sms or None
            responder.sms_index = services.vault.blind_index("sms", args.sms) if args.sms else None
        if args.activate:
            responder.active = True
    print(f"Updated {args.name}.")
    return 0


def cmd_responders_deactivate(args: argparse.Namespace) -> int:
    services = _services()
    with transaction(services.sessions) as session:
        find_responder(session, args.name).active = False
    print(f"Deactivated {args.name}: no new offers go to them.")
    return 0


def cmd_responders_list(args: argparse.Namespace) -> int:
    services = _services()
    with services.read_sessions() as session:
        for r in session.scalars(select(Responder).order_by(Responder.id)):
            item = {
                "id": r.id,
                "name": r.name,
                "shown_as": r.display_name,
                "role": r.role,
                "languages": r.languages,
                "skills": r.skills,
                "capacity": r.capacity,
                "active": r.active,
                "alerts": [
                    c for c, v in (("telegram", r.telegram_index), ("sms", r.sms_index)) if v
                ],
            }
            if args.json:
                print(json.dumps(item))
            else:
                state = "active" if r.active else "inactive"
                print(
                    f"{r.id:>4}  {r.name:<24} {r.role:<20} {','.join(r.languages):<10} "
                    f"{','.join(r.skills):<24} cap {r.capacity}  {state}  "
                    f"alerts: {','.join(item['alerts']) or 'none'}"  # type: ignore[arg-type]
                )
    return 0


def cmd_shifts_add(args: argparse.Namespace) -> int:
    services = _services()
    with transaction(services.sessions) as session:
        if args.weekday:
            rows = [
                ShiftRow(
                    args.name, parse_weekday(day), parse_time(args.start), parse_time(args.end)
                )
                for day in _split(args.weekday)
            ]
            add_weekly(session, rows)
        else:
            tz = services.program.tz
            starts = _local(args.start_at, tz)
            ends = _local(args.end_at, tz)
            if ends <= starts:
                raise RosterError("--end-at must be after --start-at")
            session.add(
                Shift(
                    responder_id=find_responder(session, args.name).id,
                    kind="override",
                    starts_at=starts,
                    ends_at=ends,
                    available=not args.time_off,
                )
            )
    print("Shift added.")
    return 0


def _local(value: str | None, tz: dt.tzinfo) -> dt.datetime:
    if not value:
        raise RosterError("give --weekday with --start/--end, or --start-at and --end-at")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise RosterError(f"{value!r}: use YYYY-MM-DDTHH:MM") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)).astimezone(dt.UTC)


def cmd_shifts_list(args: argparse.Namespace) -> int:
    services = _services()
    tz = services.program.tz
    with services.read_sessions() as session:
        names = {r.id: r.name for r in session.scalars(select(Responder))}
        for shift in session.scalars(select(Shift).order_by(Shift.responder_id, Shift.id)):
            who = names.get(shift.responder_id, "?")
            if shift.kind == "weekly":
                day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[shift.weekday or 0]
                print(
                    f"{shift.id:>4}  {who:<24} weekly  {day} {shift.start_time:%H:%M}-"
                    f"{shift.end_time:%H:%M}"
                )
            else:
                assert shift.starts_at and shift.ends_at
                kind = "cover" if shift.available else "time off"
                start, end = shift.starts_at.astimezone(tz), shift.ends_at.astimezone(tz)
                span = f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}"
                print(f"{shift.id:>4}  {who:<24} {kind:<7} {span}")
    return 0


def cmd_shifts_remove(args: argparse.Namespace) -> int:
    services = _services()
    with transaction(services.sessions) as session:
        shift = session.get(Shift, args.id)
        if shift is None:
            raise RosterError(f"no shift {args.id}")
        session.delete(shift)
    print(f"Removed shift {args.id}.")
    return 0


def cmd_shifts_import(args: argparse.Namespace) -> int:
    services = _services()
    rows = read_shift_csv(Path(args.file))
    with transaction(services.sessions) as session:
        added = add_weekly(session, rows)
    print(f"Imported {added} weekly shifts.")
    return 0


def cmd_oncall(args: argparse.Namespace) -> int:
    services = _services()
    tz = services.program.tz
    at = _local(args.at, tz) if args.at else services.clock()
    with services.read_sessions() as session:
        ids = on_call_ids(rotas(session), at, tz)
        people = session.scalars(select(Responder).where(Responder.id.in_(ids))).all()
        print(f"On call at {at.astimezone(tz):%a %Y-%m-%d %H:%M %Z}:")
        for r in sorted(people, key=lambda p: p.id):
            if r.active:
                print(f"  {r.name} ({r.role}; {', '.join(r.languages)})")
        if not any(r.active for r in people):
            print("  nobody")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    register_handoffs(sub)
    responders = sub.add_parser("responders", help="coaches and providers who take handoffs")
    rsub = responders.add_subparsers(dest="responders", required=True)
    add = rsub.add_parser("add", help="add a responder")
    add.add_argument("name")
    add.add_argument("--role", default="peer_recovery_coach", help=", ".join(RESPONDER_ROLES))
    add.add_argument("--shown-as", help="the first name people see")
    add.add_argument("--languages", default="en", help="comma-separated codes, e.g. en,es")
    add.add_argument("--skills", default="", help="e.g. moud,housing,harm_reduction")
    add.add_argument("--interpreter", action="store_true", help="works with an interpreter")
    add.add_argument("--capacity", type=int, default=3, help="open handoffs at once")
    add.add_argument("--sms", help="phone number for SMS alerts (E.164)")
    add.set_defaults(func=cmd_responders_add)
    update = rsub.add_parser("update", help="change a responder")
    update.add_argument("name")
    update.add_argument("--role")
    update.add_argument("--shown-as")
    update.add_argument("--languages")
    update.add_argument("--skills")
    update.add_argument("--capacity", type=int)
    update.add_argument("--sms")
    update.add_argument("--activate", action="store_true")
    update.set_defaults(func=cmd_responders_update)
    deactivate = rsub.add_parser("deactivate", help="stop offers to a responder")
    deactivate.add_argument("name")
    deactivate.set_defaults(func=cmd_responders_deactivate)
    listing = rsub.add_parser("list", help="list responders")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=cmd_responders_list)

    shifts = sub.add_parser("shifts", help="on-call shifts")
    ssub = shifts.add_subparsers(dest="shifts", required=True)
    sadd = ssub.add_parser("add", help="a weekly window or a one-off cover/time off")
    sadd.add_argument("name")
    sadd.add_argument("--weekday", help="mon..sun, comma-separated")
    sadd.add_argument("--start", default="09:00")
    sadd.add_argument("--end", default="17:00")
    sadd.add_argument("--start-at", help="one-off: YYYY-MM-DDTHH:MM, program time zone")
    sadd.add_argument("--end-at")
    sadd.add_argument("--time-off", action="store_true", help="the one-off is time off")
    sadd.set_defaults(func=cmd_shifts_add)
    ssub.add_parser("list", help="list shifts").set_defaults(func=cmd_shifts_list)
    remove = ssub.add_parser("remove", help="remove a shift")
    remove.add_argument("id", type=int)
    remove.set_defaults(func=cmd_shifts_remove)
    imp = ssub.add_parser("import", help="import weekly shifts from CSV: name,weekday,start,end")
    imp.add_argument("file")
    imp.set_defaults(func=cmd_shifts_import)

    oncall = sub.add_parser("oncall", help="who is on call now (or --at a time)")
    oncall.add_argument("--at", help="YYYY-MM-DDTHH:MM in the program time zone")
    oncall.set_defaults(func=cmd_oncall)


def _seconds(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    return round((end - start).total_seconds(), 1) if start and end else None


def handoff_row(handoff: Handoff, responders: dict[int, str]) -> dict[str, object]:
    """What staff see of a handoff in a listing: no name, number or story."""
    return {
        "id": handoff.id,
        "code": handoff.code,
        "status": handoff.status,
        "urgency": handoff.urgency,
        "pathway": handoff.pathway,
        "language": handoff.language,
        "created_at": handoff.created_at.isoformat(),
        "responder": responders.get(handoff.responder_id or 0),
        "scheduled_for": handoff.scheduled_for.isoformat() if handoff.scheduled_for else None,
        "seconds_to_accept": _seconds(handoff.created_at, handoff.accepted_at),
        "seconds_to_contact": _seconds(handoff.created_at, handoff.connected_at),
        "outcome": handoff.outcome if handoff.outcome != "asked" else None,
    }


def cmd_handoffs_list(args: argparse.Namespace) -> int:
    services = _services()
    with services.read_sessions() as session:
        responders = {r.id: r.name for r in session.scalars(select(Responder))}
        query = select(Handoff).order_by(Handoff.id)
        if args.status:
            query = query.where(Handoff.status == args.status)
        for handoff in session.scalars(query):
            row = handoff_row(handoff, responders)
            if args.json:
                print(json.dumps(row))
                continue
            accept = row["seconds_to_accept"]
            print(
                f"{handoff.id:>5}  {handoff.code}  {handoff.status:<10} {handoff.urgency:<9} "
                f"{handoff.pathway:<20} {handoff.language:<7} {row['created_at']}  "
                f"accepted after: {'-' if accept is None else f'{accept:.0f}s'}"
            )
    return 0


def cmd_handoffs_show(args: argparse.Namespace) -> int:
    services = _services()
    with services.read_sessions() as session:
        handoff = session.scalar(select(Handoff).where(Handoff.code == args.code.upper()))
        if handoff is None:
            raise RosterError(f"no handoff with code {args.code!r}")
        responders = {r.id: r.name for r in session.scalars(select(Responder))}
        row = handoff_row(handoff, responders)
        events = session.scalars(
            select(Event).where(Event.handoff_id == handoff.id).order_by(Event.id)
        ).all()
        if args.json:
            row["events"] = [{"kind": e.kind, "at": e.created_at.isoformat()} for e in events]
            print(json.dumps(row))
            return 0
        for key, value in row.items():
            print(f"{key:>18}: {'-' if value is None else value}")
        print("            events:")
        for event in events:
            print(
                f"  {event.created_at.astimezone(services.program.tz):%Y-%m-%d %H:%M:%S}  "
                f"{event.kind}"
            )
    return 0


def register_handoffs(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    handoffs = sub.add_parser("handoffs", help="handoff requests and their lifecycle")
    hsub = handoffs.add_subparsers(dest="handoffs", required=True)
    listing = hsub.add_parser("list", help="list handoffs")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.add_argument("--status", help="only this status, e.g. requested")
    listing.set_defaults(func=cmd_handoffs_list)
    show = hsub.add_parser("show", help="one handoff with its timeline")
    show.add_argument("code")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_handoffs_show)

"""`doorway report --from DATE --to DATE [--json|--csv]`: the dashboard's figures in a terminal."""

from __future__ import annotations

import argparse
import datetime as dt
import json

from bot.console.export import rows, to_csv, to_json
from bot.console.outcomes import Filters, compute
from bot.errors import UserError
from bot.referrals import PATHWAYS


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UserError(f"date {value!r}: use YYYY-MM-DD") from None


def cmd_report(args: argparse.Namespace) -> int:
    from bot.cli import command_services

    services = command_services()
    try:
        today = services.clock().astimezone(services.program.tz).date()
        end = _date(args.to) if args.to else today
        start = _date(args.since) if args.since else end - dt.timedelta(days=29)
        if start > end:
            raise UserError("--from: must not be after --to")
        filters = Filters(start, end, services.program.tz, args.pathway)
        with services.read_sessions() as session:
            figures = compute(session, filters)
    finally:
        services.close()
    if args.csv:
        print(to_csv(rows(figures)), end="")
    elif args.json:
        print(json.dumps(to_json(rows(figures)), indent=2))
    else:
        # The terminal is on the server, for staff: exact numbers, the same rows.
        for section, group, measure, value in rows(figures, suppress=False):
            label = f"{section} {group}".strip()
            print(f"{label:<40} {measure:<24} {value}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = sub.add_parser("report", help="outcome figures (the dashboard's) for a date range")
    report.add_argument("--from", dest="since", default=None, help="first day, YYYY-MM-DD")
    report.add_argument("--to", default=None, help="last day, YYYY-MM-DD (default: today)")
    report.add_argument("--pathway", choices=PATHWAYS, default=None)
    form = report.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="JSON rows (small counts suppressed)")
    form.add_argument("--csv", action="store_true", help="CSV rows (small counts suppressed)")
    report.set_defaults(func=cmd_report)

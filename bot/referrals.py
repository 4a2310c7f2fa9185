"""Referral codes on cards, kits and posters: add, list, disable, and resolve to a pathway."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import ReferralCode

DEFAULT_PATHWAY = "self_referral"
PATHWAYS = (
    "self_referral",
    "active_outreach",
    "naloxone_plus",
    "officer_prevention",
    "officer_intervention",
)
#: What a Telegram deep link can carry (and what fits the column); letters are case-folded.
CODE_PATTERN = re.compile(r"^[A-Z0-9_-]{1,40}$")


class ReferralError(ValueError):
    """A code is malformed, unknown, or already in use; the message says which."""


def normalize_code(code: str) -> str:
    """Codes are matched case-insensitively: a card may be typed in any case."""
    return code.strip().upper()


def add_code(
    session: Session,
    code: str,
    *,
    pathway: str,
    now: dt.datetime,
    team: str | None = None,
    description: str | None = None,
) -> ReferralCode:
    """Add a code, or bring back a disabled one with new details."""
    code = normalize_code(code)
    if not CODE_PATTERN.match(code):
        raise ReferralError(f"{code!r}: use 1-40 letters, digits, _ or -")
    if pathway not in PATHWAYS:
        raise ReferralError(f"pathway {pathway!r}: choose one of {', '.join(PATHWAYS)}")
    if team is not None and len(team) > 80:
        raise ReferralError("team: at most 80 characters")
    if description is not None and len(description) > 200:
        raise ReferralError("description: at most 200 characters")
    existing = session.scalar(select(ReferralCode).where(ReferralCode.code == code))
    if existing is not None and existing.active:
        raise ReferralError(f"{code}: already exists (disable it first to change it)")
    row = existing or ReferralCode(code=code, created_at=now)
    row.pathway, row.team, row.description, row.active = pathway, team, description, True
    session.add(row)
    session.flush()
    return row


def list_codes(session: Session) -> list[ReferralCode]:
    return list(session.scalars(select(ReferralCode).order_by(ReferralCode.code)))


def disable_code(session: Session, code: str) -> None:
    row = session.scalar(select(ReferralCode).where(ReferralCode.code == normalize_code(code)))
    if row is None:
        raise ReferralError(f"{normalize_code(code)}: no such code")
    row.active = False


def resolve(session: Session, code: str | None) -> ReferralCode | None:
    """The active code for what a person brought, or None (they get a normal conversation)."""
    if not code:
        return None
    code = normalize_code(code)
    if not CODE_PATTERN.match(code):
        return None
    return session.scalar(
        select(ReferralCode).where(ReferralCode.code == code, ReferralCode.active.is_(True))
    )


# --- `doorway referral-codes` ------------------------------------------------------------------


def _cmd_add(args: argparse.Namespace) -> int:
    from bot.cli import command_services
    from bot.db import transaction

    services = command_services()
    try:
        with transaction(services.sessions) as session:
            row = add_code(
                session,
                args.code,
                pathway=args.pathway,
                team=args.team,
                description=args.description,
                now=services.clock(),
            )
            code = row.code
    except ReferralError as exc:
        print(f"doorway: {exc}", file=sys.stderr)
        return 1
    finally:
        services.close()
    print(f"Added {code} ({args.pathway}{', ' + args.team if args.team else ''}).")
    print(f"Telegram deep link: https://t.me/<your bot>?start={code}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    from bot.cli import command_services

    services = command_services()
    try:
        with services.read_sessions() as session:
            rows = list_codes(session)
            for row in rows:
                item = {
                    "code": row.code,
                    "pathway": row.pathway,
                    "team": row.team,
                    "description": row.description,
                    "active": row.active,
                }
                if args.json:
                    print(json.dumps(item))
                else:
                    state = "active" if row.active else "disabled"
                    print(
                        f"{row.code:<20} {row.pathway:<21} {state:<9} {row.team or '-':<20} "
                        f"{row.description or ''}"
                    )
    finally:
        services.close()
    return 0


def _cmd_disable(args: argparse.Namespace) -> int:
    from bot.cli import command_services
    from bot.db import transaction

    services = command_services()
    try:
        with transaction(services.sessions) as session:
            disable_code(session, args.code)
    except ReferralError as exc:
        print(f"doorway: {exc}", file=sys.stderr)
        return 1
    finally:
        services.close()
    print(f"Disabled {normalize_code(args.code)}: it now starts a normal conversation.")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `doorway referral-codes add|list|disable`."""
    codes = sub.add_parser("referral-codes", help="referral codes for cards and deep links")
    actions = codes.add_subparsers(dest="referral_codes", required=True)
    add = actions.add_parser("add", help="add a code")
    add.add_argument("code")
    add.add_argument("--pathway", required=True, choices=PATHWAYS)
    add.add_argument("--team", default=None)
    add.add_argument("--description", default=None)
    add.set_defaults(func=_cmd_add)
    listing = actions.add_parser("list", help="list codes")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(func=_cmd_list)
    disable = actions.add_parser("disable", help="stop a code from setting the pathway")
    disable.add_argument("code")
    disable.set_defaults(func=_cmd_disable)

"""One-time link codes that tie a responder's chat account (Telegram) to their record."""

from __future__ import annotations

import argparse
import datetime as dt
import secrets
import sys

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.crypto import Vault
from bot.events import record
from bot.models import LinkCode, Responder

LINK_CODE_TTL = dt.timedelta(minutes=15)
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a screen and typed
_CODE_CHARS = 10  # 32**10 codes: guessing one inside 15 minutes is hopeless
#: Where each channel keeps a responder's address (encrypted) and its blind index.
_COLUMNS = {"telegram": ("telegram_chat", "telegram_index"), "sms": ("sms_phone", "sms_index")}


def _normalize(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def code_hash(vault: Vault, code: str) -> str:
    """Only a keyed hash of the code is stored, so a database copy cannot redeem it."""
    return vault.blind_index("link-code", _normalize(code))


def create_link_code(
    session: Session,
    vault: Vault,
    responder_name: str,
    now: dt.datetime,
    *,
    channel: str = "telegram",
) -> str:
    """A fresh code for a responder (shown once); earlier unused codes stop working."""
    if channel not in _COLUMNS:
        raise ValueError(f"channel {channel!r}: link codes work for {', '.join(_COLUMNS)}")
    responder = session.scalar(select(Responder).where(Responder.name == responder_name))
    if responder is None:
        raise LookupError(f"{responder_name!r}: no such responder")
    session.execute(
        update(LinkCode)
        .where(
            LinkCode.responder_id == responder.id,
            LinkCode.channel == channel,
            LinkCode.used_at.is_(None),
            LinkCode.expires_at > now,
        )
        .values(expires_at=now)
    )
    code = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_CHARS))
    session.add(
        LinkCode(
            responder_id=responder.id,
            code_hash=code_hash(vault, code),
            channel=channel,
            expires_at=now + LINK_CODE_TTL,
            created_at=now,
        )
    )
    session.flush()
    record(session, "link_code_created", now, responder_id=responder.id, channel=channel)
    return f"{code[:5]}-{code[5:]}"


def redeem_link_code(
    session: Session, vault: Vault, code: str, *, channel: str, address: str, now: dt.datetime
) -> Responder | None:
    """Link `address` to the code's responder, once and before it expires; None otherwise."""
    if channel not in _COLUMNS or not 4 <= len(_normalize(code)) <= 32:
        return None
    row = session.scalar(
        select(LinkCode).where(LinkCode.code_hash == code_hash(vault, code)).with_for_update()
    )
    if row is None or row.used_at is not None or row.expires_at <= now or row.channel != channel:
        return None
    responder = session.get(Responder, row.responder_id)
    if responder is None or not responder.active:
        return None
    row.used_at = now
    address_column, index_column = _COLUMNS[channel]
    index = vault.blind_index(channel, address)
    # One chat belongs to one responder: a re-link moves it.
    for other in session.scalars(
        select(Responder).where(
            getattr(Responder, index_column) == index, Responder.id != row.responder_id
        )
    ):
        setattr(other, address_column, None)
        setattr(other, index_column, None)
    setattr(responder, address_column, address)
    setattr(responder, index_column, index)
    record(session, "responder_linked", now, responder_id=responder.id, channel=channel)
    return responder


def linked_responder(
    session: Session, vault: Vault, *, channel: str, address: str
) -> Responder | None:
    """The responder whose chat this is, if any."""
    if channel not in _COLUMNS:
        return None
    index_column = getattr(Responder, _COLUMNS[channel][1])
    return session.scalar(
        select(Responder).where(index_column == vault.blind_index(channel, address)).limit(1)
    )


# --- `doorway responders link-code NAME` -------------------------------------------------------


def _cmd_link_code(args: argparse.Namespace) -> int:
    from bot.cli import command_services
    from bot.db import transaction

    services = command_services()
    try:
        with transaction(services.sessions) as session:
            code = create_link_code(
                session, services.vault, args.name, services.clock(), channel=args.channel
            )
    except (LookupError, ValueError) as exc:
        print(f"doorway: {exc}", file=sys.stderr)
        return 1
    finally:
        services.close()
    minutes = int(LINK_CODE_TTL.total_seconds() // 60)
    print(f"Link code for {args.name}: {code}")
    print(f"Send `/link {code}` to the bot within {minutes} minutes. It works once.")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `doorway responders link-code NAME` (joining a `responders` group if one exists)."""
    group = sub.choices.get("responders")
    if group is None:
        group = sub.add_parser("responders", help="responder tools")
    actions = _subcommands(group, "responders")
    command = actions.add_parser("link-code", help="print a one-time code to link a chat account")
    command.add_argument("name", help="the responder's name as stored")
    command.add_argument("--channel", default="telegram", choices=sorted(_COLUMNS))
    command.set_defaults(func=_cmd_link_code)


def _subcommands(
    parser: argparse.ArgumentParser, dest: str
) -> argparse._SubParsersAction[argparse.ArgumentParser]:
    """The parser's sub-command list, made on first use (another component may share it)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest=dest, required=True)

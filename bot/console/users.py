"""Console users: add, list and disable them (`doorway users ...` and the admin page)."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import re
import sys

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.console.auth import ROLES, hash_password
from bot.db import transaction
from bot.errors import UserError
from bot.models import ConsoleSession, ConsoleUser, Responder

USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,60}$")
MIN_PASSWORD = 12


class UserAdminError(UserError):
    """A bad user value; the message says which and why."""


def add_user(
    session: Session,
    username: str,
    *,
    role: str,
    password: str,
    now: dt.datetime,
    responder: str | None = None,
) -> ConsoleUser:
    username = username.strip()
    if not USERNAME.match(username):
        raise UserAdminError("username: 2-60 letters, digits, _ . @ or -")
    if role not in ROLES:
        raise UserAdminError(f"role {role!r}: one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UserAdminError(f"password: at least {MIN_PASSWORD} characters")
    if session.scalar(select(ConsoleUser.id).where(ConsoleUser.username == username)):
        raise UserAdminError(f"user {username!r} already exists")
    responder_id = None
    if responder:
        found = session.scalar(select(Responder).where(Responder.name == responder.strip()))
        if found is None:
            raise UserAdminError(f"no responder named {responder!r}")
        responder_id = found.id
    user = ConsoleUser(
        username=username,
        password_hash=hash_password(password),
        role=role,
        responder_id=responder_id,
        failed_logins=0,
        active=True,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def disable_user(session: Session, username: str) -> ConsoleUser:
    """Disabled users cannot sign in; their open sessions end now."""
    user = session.scalar(select(ConsoleUser).where(ConsoleUser.username == username.strip()))
    if user is None:
        raise UserAdminError(f"no user named {username!r}")
    user.active = False
    for row in session.scalars(select(ConsoleSession).where(ConsoleSession.user_id == user.id)):
        session.delete(row)
    return user


def list_users(session: Session) -> list[tuple[ConsoleUser, str | None]]:
    rows = session.execute(
        select(ConsoleUser, Responder.name)
        .outerjoin(Responder, Responder.id == ConsoleUser.responder_id)
        .order_by(ConsoleUser.username)
    ).all()
    return [(user, name) for user, name in rows]


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Again: "):
        raise UserAdminError("the two passwords differ")
    return first


def _cmd_add(args: argparse.Namespace) -> int:
    from bot.cli import command_services

    password = _read_password(args.password_stdin)
    services = command_services()
    try:
        with transaction(services.sessions) as session:
            user = add_user(
                session,
                args.name,
                role=args.role,
                password=password,
                now=services.clock(),
                responder=args.responder,
            )
            print(f"Added {user.role} {user.username}")
    finally:
        services.close()
    return 0


def _cmd_list(_args: argparse.Namespace) -> int:
    from bot.cli import command_services

    services = command_services()
    try:
        with services.read_sessions() as session:
            for user, responder in list_users(session):
                state = "active" if user.active else "disabled"
                print(f"{user.username}\t{user.role}\t{responder or '-'}\t{state}")
    finally:
        services.close()
    return 0


def _cmd_disable(args: argparse.Namespace) -> int:
    from bot.cli import command_services

    services = command_services()
    try:
        with transaction(services.sessions) as session:
            disable_user(session, args.name)
        print(f"Disabled {args.name}")
    finally:
        services.close()
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = sub.add_parser("users", help="web console users").add_subparsers(
        dest="users", required=True
    )
    add = users.add_parser("add", help="add a user (asks for the password, or reads stdin)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--responder", default=None, help="the responder this coach is")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(func=_cmd_add)
    users.add_parser("list", help="list users").set_defaults(func=_cmd_list)
    disable = users.add_parser("disable", help="stop a user signing in")
    disable.add_argument("name")
    disable.set_defaults(func=_cmd_disable)

"""Referring teams and their API keys: shown once, stored as a SHA-256 hash, compared in
constant time."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.errors import UserError
from bot.models import Team

KEY_PREFIX = "dwk_"
#: Longer than any key we issue; a bigger header is refused before it is hashed.
MAX_KEY_LENGTH = 200


class TeamError(UserError):
    """A team name is taken, unknown or malformed; the message says which."""


def key_hash(key: str) -> str:
    # A 256-bit random token needs no slow hash: nobody can guess it, only steal it.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def clean_name(name: str) -> str:
    name = " ".join(name.split())
    if not 1 <= len(name) <= 80:
        raise TeamError("team name: 1-80 characters")
    return name


def add_team(session: Session, name: str, now: dt.datetime) -> tuple[Team, str]:
    """A new team and its key (the only time the key exists in clear)."""
    name = clean_name(name)
    if session.scalar(select(Team.id).where(Team.name == name)) is not None:
        raise TeamError(f"team {name!r} already exists")
    key = new_key()
    team = Team(name=name, api_key_hash=key_hash(key), active=True, created_at=now)
    session.add(team)
    session.flush()
    return team, key


def disable_team(session: Session, name: str) -> Team:
    team = session.scalar(select(Team).where(Team.name == clean_name(name)))
    if team is None:
        raise TeamError(f"no team named {name!r}")
    team.active = False
    return team


def active_team(session: Session, name: str) -> Team | None:
    return session.scalar(select(Team).where(Team.name == name, Team.active.is_(True)))


def authenticate(session: Session, key: str) -> Team | None:
    """The active team a key belongs to, or None."""
    if not key.startswith(KEY_PREFIX) or len(key) > MAX_KEY_LENGTH:
        return None
    digest = key_hash(key)
    team = session.scalar(select(Team).where(Team.api_key_hash == digest))
    # The lookup found a row by its hash; compare again without an early exit anyway.
    if team is None or team.api_key_hash is None:
        return None
    if not hmac.compare_digest(team.api_key_hash, digest) or not team.active:
        return None
    return team

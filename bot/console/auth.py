"""Console sign-in: argon2 password hashes, server-side sessions, CSRF tokens, lockout."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
from collections import deque
from dataclasses import dataclass
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.models import ConsoleSession, ConsoleUser

ROLES = ("coach", "supervisor", "admin")
LEVEL = {"coach": 1, "supervisor": 2, "admin": 3}
SESSION_COOKIE = "doorway_console"
LOGIN_COOKIE = "doorway_console_login"  # the login form's CSRF token (no session yet)
LANGUAGE_COOKIE = "doorway_console_lang"

_hasher = PasswordHasher()
_dummy: list[str] = []


class ConsoleSettings(BaseSettings):
    """How long a session lasts and how hard guessing a password is."""

    model_config = SettingsConfigDict(env_prefix="DOORWAY_CONSOLE_", extra="ignore")

    idle_minutes: int = 30
    max_age_hours: int = 12
    max_failures: int = 5
    lockout_minutes: int = 15
    #: Sign-in attempts per client address per minute, whatever the username.
    attempts_per_minute: int = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_ok(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _waste_time(password: str) -> None:
    """An unknown username costs as much as a wrong password: no user enumeration by timing."""
    if not _dummy:
        _dummy.append(hash_password(secrets.token_hex(16)))
    password_ok(_dummy[0], password)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def same(a: str, b: str) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


@dataclass(frozen=True)
class Actor:
    """The signed-in user, as every console page sees them."""

    user_id: int
    username: str
    role: str
    responder_id: int | None
    csrf: str

    def at_least(self, role: str) -> bool:
        return LEVEL.get(self.role, 0) >= LEVEL[role]


SignInResult = Literal["ok", "wrong", "locked"]


def sign_in(
    session: Session, username: str, password: str, now: dt.datetime, settings: ConsoleSettings
) -> tuple[SignInResult, str | None]:
    """Check a password; on success returns a new session token for the cookie."""
    user = session.scalar(
        select(ConsoleUser).where(ConsoleUser.username == username.strip()).with_for_update()
    )
    if user is None or not user.active:
        _waste_time(password)
        return "wrong", None
    if user.locked_until is not None and user.locked_until > now:
        return "locked", None
    if not password_ok(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= settings.max_failures:
            user.locked_until = now + dt.timedelta(minutes=settings.lockout_minutes)
            user.failed_logins = 0
            return "locked", None
        return "wrong", None
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    token = secrets.token_urlsafe(32)
    session.add(
        ConsoleSession(
            token_hash=token_hash(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + dt.timedelta(hours=settings.max_age_hours),
        )
    )
    return "ok", token


def current(
    session: Session, token: str | None, now: dt.datetime, settings: ConsoleSettings
) -> Actor | None:
    """The user behind a cookie; an idle or old session is deleted and counts as none."""
    if not token:
        return None
    row = session.scalar(
        select(ConsoleSession).where(ConsoleSession.token_hash == token_hash(token))
    )
    if row is None:
        return None
    idle = dt.timedelta(minutes=settings.idle_minutes)
    user = session.get(ConsoleUser, row.user_id)
    if now - row.last_seen_at > idle or now >= row.expires_at or user is None or not user.active:
        session.delete(row)
        return None
    row.last_seen_at = now
    return Actor(user.id, user.username, user.role, user.responder_id, row.csrf_token)


def sign_out(session: Session, token: str | None) -> None:
    if token:
        session.execute(
            delete(ConsoleSession).where(ConsoleSession.token_hash == token_hash(token))
        )


class Throttle:
    """At most `limit` attempts per key in any `window`: slows guessing across usernames."""

    def __init__(self, limit: int, window: dt.timedelta = dt.timedelta(minutes=1)) -> None:
        self.limit = limit
        self.window = window
        self._seen: dict[str, deque[dt.datetime]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: dt.datetime) -> bool:
        with self._lock:
            times = self._seen.setdefault(key, deque())
            while times and now - times[0] >= self.window:
                times.popleft()
            if len(times) >= self.limit:
                return False
            times.append(now)
            if len(self._seen) > 10_000:  # forget quiet addresses; memory stays bounded
                self._seen = {k: v for k, v in self._seen.items() if v}
            return True

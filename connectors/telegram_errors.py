"""The one place where python-telegram-bot's exceptions become a `SendResult`."""

from __future__ import annotations

import datetime as dt
import warnings

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.warnings import PTBDeprecationWarning

from connectors.base import SendResult

#: BadRequest descriptions after which this chat cannot be written to again.
_GONE = ("chat not found", "user not found", "peer_id_invalid", "have no rights to send")


def retry_seconds(exc: RetryAfter) -> float:
    """Seconds to wait, whichever type this PTB version reports (int, or timedelta from 22.2)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: object = exc.retry_after
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return float(value) if isinstance(value, int | float) else 1.0


def result_for(exc: TelegramError) -> SendResult:
    """Map a failed Bot API call: permanent only when this person can never be reached here.

    Problems on our side (a revoked token, a conflict) are transient for the person: marking
    them unreachable would silence them for good because of our mistake.
    """
    if isinstance(exc, RetryAfter):
        return SendResult(error_code="rate_limited", retry_after=retry_seconds(exc))
    if isinstance(exc, Forbidden):
        # "bot was blocked by the user", "user is deactivated", "bot was kicked".
        return SendResult(error_code="blocked", permanent=True)
    if isinstance(exc, ChatMigrated):
        return SendResult(error_code="chat_migrated", permanent=True)
    if isinstance(exc, InvalidToken | EndPointNotFound):
        return SendResult(error_code="invalid_token")
    if isinstance(exc, Conflict):
        return SendResult(error_code="conflict")
    if isinstance(exc, TimedOut):
        return SendResult(error_code="timeout")
    if isinstance(exc, BadRequest):
        # BadRequest subclasses NetworkError, so it is checked before it.
        description = exc.message.lower()
        if any(marker in description for marker in _GONE):
            return SendResult(error_code="chat_not_found", permanent=True)
        # Our request was wrong, not the person's address: never mark them unreachable for it.
        return SendResult(error_code="bad_request")
    if isinstance(exc, NetworkError):
        return SendResult(error_code="network")
    return SendResult(error_code="telegram_error")

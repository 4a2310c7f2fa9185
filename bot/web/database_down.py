"""What a request gets while the database cannot be reached: 503 and Retry-After, not a 500.

The database may be down, restarting, out of connections or (SQLite) locked for too long.
The provider, the page or a staff member can try again; the log says what happened.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import OperationalError

log = logging.getLogger(__name__)

#: Seconds a client is asked to wait before trying again.
RETRY_AFTER_SECONDS = 5


def answered_unavailable(exc: OperationalError) -> dict[str, str]:
    """Log the failure and return the response's headers. Only the driver's error class is
    logged: its message may quote the statement's values (a phone number, a message)."""
    log.error("database unavailable (%s): answered 503", type(exc.orig).__name__)
    return {"Retry-After": str(RETRY_AFTER_SECONDS)}

"""getUpdates long polling for local development: no public URL needed, stops cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError

from connectors.telegram import ALLOWED_UPDATES, TelegramConnector
from connectors.telegram_errors import retry_seconds

log = logging.getLogger(__name__)

#: Waits between failed polls grow to this many seconds and no further.
MAX_BACKOFF = 30.0


async def poll(
    connector: TelegramConnector,
    stop: asyncio.Event,
    *,
    long_poll_seconds: int = 25,
    max_rounds: int | None = None,
) -> int:
    """Fetch and handle updates until `stop` is set (or after `max_rounds` polls).

    Returns how many updates were handled. A webhook and getUpdates exclude each other, so the
    webhook is removed first (pending updates are kept).
    """
    bot = connector.bot
    await bot.delete_webhook(drop_pending_updates=False)
    offset: int | None = None
    handled = 0
    backoff = 1.0
    rounds = 0
    while not stop.is_set() and (max_rounds is None or rounds < max_rounds):
        rounds += 1
        try:
            updates = await bot.get_updates(
                offset=offset,
                timeout=long_poll_seconds,
                allowed_updates=list(ALLOWED_UPDATES),
                read_timeout=long_poll_seconds + 10,
            )
        except (InvalidToken, Conflict) as exc:
            # A wrong token or another poller: retrying cannot fix either.
            log.error("telegram polling stopped: %s", type(exc).__name__)
            raise
        except RetryAfter as exc:
            await _sleep(stop, retry_seconds(exc))
            continue
        except TelegramError as exc:
            log.warning("telegram poll failed (%s); retrying in %.0fs", type(exc).__name__, backoff)
            await _sleep(stop, backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)
            continue
        backoff = 1.0
        for update in updates:
            # Confirm before handling: a poison update must not block every later one.
            offset = update.update_id + 1
            try:
                await connector.handle_update(update)
                handled += 1
            except Exception as exc:
                log.error("telegram update failed: %s", type(exc).__name__)
    return handled


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    """Sleep, but wake at once when asked to stop."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)

"""Keep the Telegram SDK's logs free of the bot token, chat ids and message text."""

from __future__ import annotations

import logging

#: python-telegram-bot logs every API call's parameters (chat ids, text) at DEBUG, and httpx
#: logs each request URL, which holds the token, at INFO.
_CHATTY = ("telegram", "httpx", "httpcore")
_NAMED = (
    "telegram",
    "telegram.Bot",
    "telegram.request",
    "telegram.request.BaseRequest",
    "telegram.request.HTTPXRequest",
    "httpx",
    "httpcore",
)


class RedactToken(logging.Filter):
    """Replaces the token wherever it appears in a record that is still let through."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.token:
            return True
        message = record.getMessage()
        if self.token in message:
            record.msg = message.replace(self.token, "<telegram-token>")
            record.args = None
        return True


def quiet_provider_logs(token: str) -> None:
    """Raise the SDK loggers to WARNING and redact the token from what remains."""
    for name in _CHATTY:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
    for name in _NAMED:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactToken) and f.token == token for f in logger.filters):
            logger.addFilter(RedactToken(token))

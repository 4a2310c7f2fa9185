"""Logging set-up: text or JSON lines, with personal data and secrets redacted from every record."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

#: Field names never logged whatever the channel; each connector adds its own `REDACT`.
BASE_FIELDS = (
    "body",
    "text",
    "from",
    "to",
    "address",
    "phone",
    "token",
    "authorization",
    "signature",
    "name",
    "display_name",
    "first_name",
    "last_name",
    "username",
    "password",
    "secret",
    "secret_key",
    "api_key",
    "apikey",
    "auth_token",
    "encryption_keys",
    "index_key",
    "x-twilio-signature",
    "x-telegram-bot-api-secret-token",
)

# Order matters: secrets and tokens first (they may contain digits that look like numbers).
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"), "Bearer [token]"),
    (re.compile(r"gAAAAA[A-Za-z0-9_=-]{20,}"), "[fernet]"),
    (re.compile(r"gcm1:[A-Za-z0-9_=-]{8,}"), "[encrypted]"),
    # Telegram bot tokens, also inside API URLs (`/bot123456:AA.../sendMessage`).
    (re.compile(r"\b\d{5,12}:[A-Za-z0-9_-]{30,}"), "[bot-token]"),
    (re.compile(r"\b(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{8,}"), "[api-key]"),
    (re.compile(r"(?i)\b[\w.+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+\b"), "[email]"),
    # Long words are secrets: session tokens, hex secrets, keys, blind indexes, hashed
    # addresses. From 32 characters always (prose has no such words); shorter ones from 20
    # when they mix letters and digits.
    (re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{32,}={0,2}(?![A-Za-z0-9_=-])"), "[secret]"),
    (
        re.compile(
            r"(?<![A-Za-z0-9_-])(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])"
            r"[A-Za-z0-9_-]{20,}={0,2}(?![A-Za-z0-9_=-])"
        ),
        "[secret]",
    ),
    # E.164 and international forms: +1 555 555 0123, +44 (20) 7946-0958.
    (re.compile(r"\+\d[\d\s().-]{6,}\d"), "[phone]"),
    # US forms: (555) 555-0123, 555-555-0123, 555.555.0123, 1-800-662-4357.
    (
        re.compile(r"(?<!\d)(?:1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}(?!\d)"),
        "[phone]",
    ),
    # Bare long numbers: Telegram chat ids (also -100... group ids), 10-digit phone numbers.
    (re.compile(r"(?<![\w.])-?\d{7,}(?![\w.])"), "[id]"),
)

_REDACTED = "[redacted]"
#: Loggers whose debug records carry decrypted database rows.
_ROW_LOGGERS = ("sqlalchemy.engine", "sqlalchemy.orm", "sqlalchemy.pool")


def declared_fields(extra: Iterable[str] = ()) -> frozenset[str]:
    """The base list plus every loaded connector's `REDACT`, lower-cased."""
    from connectors.base import Connector

    names = {name.lower() for name in (*BASE_FIELDS, *extra)}
    pending: list[type] = [Connector]
    while pending:
        cls = pending.pop()
        names.update(field.lower() for field in getattr(cls, "REDACT", ()))
        pending.extend(cls.__subclasses__())
    return frozenset(names)


def _field_pattern(names: frozenset[str]) -> re.Pattern[str]:
    """`name=value`, `name: value`, `'name': 'value'`, `"name": "value"` for any declared name."""
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(
        rf"""(?ix)
        (?<![\w-])(["']?)({alternatives})\1      # the field name, maybe quoted
        (\s*[=:]\s*)                             # = or :
        ("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;&}}\]]+)   # a quoted or bare value
        """
    )


class Redactor:
    """Removes personal data and secrets from text; field names are re-read as connectors load."""

    def __init__(self, extra_fields: Iterable[str] = ()) -> None:
        self.extra_fields = tuple(extra_fields)
        self._connector_count = -1
        self._fields: frozenset[str] = frozenset()
        self._field_re: re.Pattern[str] | None = None

    def fields(self) -> frozenset[str]:
        from connectors.base import Connector

        count = _count_subclasses(Connector)
        if count != self._connector_count or self._field_re is None:
            self._fields = declared_fields(self.extra_fields)
            self._field_re = _field_pattern(self._fields)
            self._connector_count = count
        return self._fields

    def text(self, value: str) -> str:
        self.fields()
        assert self._field_re is not None
        for pattern, replacement in _PATTERNS:
            value = pattern.sub(replacement, value)
        # Fields last, so `Authorization: Bearer x` loses its token first and then its scheme.
        return self._field_re.sub(_replace_field_value, value)

    def value(self, value: Any, key: str | None = None) -> Any:
        """A log argument: redacted whole when its key is declared, pattern-redacted if text."""
        if key is not None and key.lower() in self.fields():
            return _REDACTED
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bool | int | float) or value is None:
            return (
                self.text(str(value)) if isinstance(value, int) and abs(value) >= 10**6 else value
            )
        if isinstance(value, Mapping):
            return {k: self.value(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.value(v) for v in value]
        # Anything else is turned to text now, so its repr cannot smuggle data past us.
        return self.text(repr(value) if not isinstance(value, Exception) else str(value))


def _replace_field_value(match: re.Match[str]) -> str:
    quote, name, separator, value = match.groups()
    wrapped = value[0] if value[:1] in ("'", '"') else ""
    return f"{quote}{name}{quote}{separator}{wrapped}{_REDACTED}{wrapped}"


def _count_subclasses(root: type) -> int:
    count, pending = 0, [root]
    while pending:
        cls = pending.pop()
        count += 1
        pending.extend(cls.__subclasses__())
    return count


#: LogRecord attributes that are not `extra=` fields.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
    | {"message", "asctime", "taskName"}
)


class RedactingFilter(logging.Filter):
    """Rewrites a record in place: message and args, extra fields, exception and stack text."""

    def __init__(self, redactor: Redactor | None = None) -> None:
        super().__init__()
        self.redactor = redactor or Redactor()

    def filter(self, record: logging.LogRecord) -> bool:
        redact(record, self.redactor)
        return True


def redact(record: logging.LogRecord, redactor: Redactor) -> logging.LogRecord:
    # Runs twice for most records (factory, then handler filter) because `extra=` fields are
    # attached after the factory; redacting is idempotent, so that is only a little work.
    if record.levelno <= logging.DEBUG and record.name.startswith(_ROW_LOGGERS):
        # SQLAlchemy's debug echo prints result rows after decryption: free text no pattern
        # can recognise. The statement and its (encrypted) parameters at INFO stay useful.
        record.msg, record.args = "[result row not logged]", None
        return record
    try:
        message = record.getMessage()
    except Exception:  # a bad format string must not leak its arguments either
        message = f"{record.msg!s} (unformattable log arguments)"
    record.msg = redactor.text(message)
    record.args = None
    for key, value in list(vars(record).items()):
        if key not in _STANDARD_ATTRS and not key.startswith("_"):
            setattr(record, key, redactor.value(value, key))
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redactor.text(record.exc_text)
    # The exception object itself still holds the raw message: no handler may format it again.
    record.exc_info = None
    if record.stack_info:
        record.stack_info = redactor.text(record.stack_info)
    return record


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extra fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        item: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                item[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            item["exc"] = record.exc_text
        if record.stack_info:
            item["stack"] = record.stack_info
        return json.dumps(item, default=str, ensure_ascii=False)


_HANDLER_NAME = "doorway"
APP_LOGGERS = ("bot", "connectors")
_factory_state: dict[str, Callable[..., logging.LogRecord]] = {}


def _install_record_factory(redactor: Redactor) -> None:
    """Redact at creation, so every handler (uvicorn's, pytest's, an error tracker's) only
    ever sees clean records, not just the one we add."""
    original = _factory_state.setdefault("original", logging.getLogRecordFactory())

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return redact(original(*args, **kwargs), redactor)

    logging.setLogRecordFactory(factory)


def reset_logging() -> None:
    """Undo `configure_logging` (for tests)."""
    original = _factory_state.pop("original", None)
    if original is not None:
        logging.setLogRecordFactory(original)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    for name in APP_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)


def configure_logging(
    format: Literal["text", "json"] = "text",
    *,
    level: int | str = logging.INFO,
    stream: Any = None,
) -> logging.Handler:
    """One handler on the root logger, with redaction on every record. Safe to call twice.

    Our own loggers (`bot`, `connectors`) log at `level`; libraries only from WARNING, so a
    command's output is not buried under their start-up chatter.
    """
    reset_logging()
    redactor = Redactor()
    _install_record_factory(redactor)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RedactingFilter(redactor))
    if format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for name in APP_LOGGERS:
        logging.getLogger(name).setLevel(level)
    return handler

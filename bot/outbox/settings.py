"""The outbox worker's settings (DOORWAY_OUTBOX_*), with safe defaults."""

from __future__ import annotations

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.config import ConfigError

#: How long past the send timeout an address stays marked busy: a worker that died mid-send
#: leaves the mark, and it must lapse before the lease returns the job to the pool.
BUSY_MARGIN_SECONDS = 1.0


class OutboxSettings(BaseSettings):
    """How fast, how often and how long the worker tries."""

    model_config = SettingsConfigDict(
        env_prefix="DOORWAY_OUTBOX_", env_file=".env", extra="ignore", env_file_encoding="utf-8"
    )

    #: Messages per second per sender (channel); 0 turns the limit off.
    rate_per_second: float = Field(default=1.0, ge=0)
    #: Telegram's own pace: its bots may send about 30 messages a second in all (one a
    #: second to one chat, in short bursts more), and replies go through the outbox, so at
    #: the SMS pace the tenth person writing at once would wait ten seconds for an answer.
    telegram_rate_per_second: float = Field(default=30.0, ge=0)
    #: Tries before a message is given up as failed.
    max_attempts: int = Field(default=6, ge=1, le=50)
    #: The longest one send may take before it counts as a transient failure.
    send_timeout_seconds: float = Field(default=30.0, gt=0)
    #: A claimed job returns to the pool after this long if its worker died.
    lease_seconds: float = Field(default=60.0, gt=0)
    batch_size: int = Field(default=10, ge=1, le=500)
    #: Jobs of one batch a worker runs at once, each in its own transactions and database
    #: connection (so at most 32, inside the connection pool); one person's jobs still go
    #: in order. No lock is held while a provider answers, so on SQLite too the sends
    #: overlap while the short transactions around them take turns at the one writer.
    concurrency: int = Field(default=8, ge=1, le=32)
    #: How often an idle worker looks for due jobs (it is also woken when one is queued).
    poll_seconds: float = Field(default=1.0, gt=0)
    #: First retry delay; doubled each attempt up to `backoff_cap_seconds`, with jitter.
    backoff_base_seconds: float = Field(default=5.0, gt=0)
    backoff_cap_seconds: float = Field(default=900.0, gt=0)
    #: Days a finished job (done, failed, cancelled) is kept before the worker deletes it
    #: (`bot.outbox.prune`); what happened to each message stays in its status and events.
    keep_days: int = Field(default=30, ge=1)
    #: Run the worker inside `doorway serve`; unset means "on SQLite only".
    in_process: bool | None = None

    @field_validator("lease_seconds")
    @classmethod
    def _lease_outlasts_a_send(cls, lease: float, info: ValidationInfo) -> float:
        least = info.data.get("send_timeout_seconds", 0.0) + BUSY_MARGIN_SECONDS
        if lease <= least:
            raise ValueError(
                f"must be over the send timeout plus {BUSY_MARGIN_SECONDS:g} s ({least:g}), "
                "or a job could be sent twice at once"
            )
        return lease


def load_outbox_settings(**overrides: object) -> OutboxSettings:
    """Read the settings; a bad value becomes one line naming the variable."""
    try:
        return OutboxSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "?"
        raise ConfigError(f"DOORWAY_OUTBOX_{field.upper()}: {error['msg']}") from None

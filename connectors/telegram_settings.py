"""Telegram's own settings (TELEGRAM_*), checked at start-up with a one-line error."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.config import ConfigError

DEFAULT_API_BASE = "https://api.telegram.org/bot"
WEBHOOK_PATH = "/webhooks/telegram"
#: The characters and length Telegram accepts for `secret_token` in setWebhook.
WEBHOOK_AUTH_PATTERN = r"^[A-Za-z0-9_-]{1,256}$"


class TelegramSettings(BaseSettings):
    """No token means the channel is off; everything else has a safe default."""

    model_config = SettingsConfigDict(
        env_prefix="TELEGRAM_", env_file=".env", extra="ignore", env_file_encoding="utf-8"
    )

    bot_token: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    api_base: str = DEFAULT_API_BASE
    polling_timeout: int = Field(default=25, ge=0, le=50)

    @field_validator("bot_token", "webhook_secret", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        # BotFather tokens are "<digits>:<35 url-safe characters>"; never echo the value.
        if value is not None:
            bot_id, _, rest = value.get_secret_value().partition(":")
            if not bot_id.isdigit() or not rest:
                raise ValueError("does not look like a bot token from @BotFather (id:secret)")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.match(WEBHOOK_AUTH_PATTERN, value.get_secret_value()):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @field_validator("api_base")
    @classmethod
    def _api_base_is_http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @property
    def enabled(self) -> bool:
        return self.bot_token is not None

    def token(self) -> str:
        if self.bot_token is None:
            raise ConfigError("TELEGRAM_BOT_TOKEN: not set")
        return self.bot_token.get_secret_value()

    def secret(self) -> str | None:
        return self.webhook_secret.get_secret_value() if self.webhook_secret else None


def load_telegram_settings(**overrides: Any) -> TelegramSettings:
    """Read TELEGRAM_*; a bad value becomes one `ConfigError` line naming the variable."""
    try:
        return TelegramSettings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "?"
        # pydantic prefixes "Value error, "; the variable name says enough.
        reason = str(error["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"TELEGRAM_{field.upper()}: {reason}") from None


def require_webhook_secret(settings: TelegramSettings) -> str:
    """The webhook is only served with a secret: without it anyone could post updates."""
    secret = settings.secret()
    if secret is None:
        raise ConfigError(
            "TELEGRAM_WEBHOOK_SECRET: required with TELEGRAM_BOT_TOKEN for the webhook "
            "(or run `doorway serve --telegram-polling`)"
        )
    return secret

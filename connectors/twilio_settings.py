"""The Twilio SMS channel's own settings, read from TWILIO_* variables and checked at start-up."""

from __future__ import annotations

import os
import re

from pydantic import SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.config import ConfigError

DEFAULT_API_BASE = "https://api.twilio.com"
_SID = {
    "account_sid": re.compile(r"^AC[0-9a-fA-F]{32}$"),
    "messaging_service_sid": re.compile(r"^MG[0-9a-fA-F]{32}$"),
}


class TwilioSettings(BaseSettings):
    """What the SMS channel needs; without an account SID and token the channel is off."""

    model_config = SettingsConfigDict(
        env_prefix="TWILIO_", env_file=".env", extra="ignore", env_file_encoding="utf-8"
    )

    account_sid: str
    auth_token: SecretStr  # never printed, even in a repr
    messaging_service_sid: str | None = None
    from_number: str | None = None
    api_base: str = DEFAULT_API_BASE
    #: Twilio's Advanced Opt-Out answers STOP/START/HELP itself: we then send no confirmation.
    advanced_opt_out: bool = True
    #: Swap curly quotes, dashes and odd spaces for GSM-7 ones so a text is not billed as UCS-2.
    smart_encoding: bool = True
    #: Seconds the inbound webhook waits for our reply before answering empty TwiML.
    reply_budget_seconds: float = 10.0
    #: Seconds one REST call may take before it counts as a (transient) failure.
    request_timeout_seconds: float = 10.0

    @field_validator("account_sid", "messaging_service_sid")
    @classmethod
    def _sid_shape(cls, value: str | None, info: ValidationInfo) -> str | None:
        name = info.field_name or ""
        if value is not None and not _SID[name].match(value):
            prefix = "AC" if name == "account_sid" else "MG"
            raise ValueError(f"must be {prefix} followed by 32 hex digits")
        return value

    @field_validator("auth_token")
    @classmethod
    def _token_present(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("is empty")
        return value

    @field_validator("from_number")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\+[1-9]\d{6,14}", value):
            raise ValueError("must be an E.164 number such as +15551234567")
        return value

    @field_validator("api_base")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _one_sender(self) -> TwilioSettings:
        if not (self.messaging_service_sid or self.from_number):
            raise ValueError("not set: set it or TWILIO_FROM_NUMBER (where texts come from)")
        return self


def sms_configured(environ: dict[str, str] | None = None) -> bool:
    """Whether any Twilio credential is set (then every setting must be right)."""
    env = os.environ if environ is None else environ
    return bool(env.get("TWILIO_ACCOUNT_SID") or env.get("TWILIO_AUTH_TOKEN"))


def load_twilio_settings(**overrides: object) -> TwilioSettings | None:
    """The settings, None when the channel is not configured, or one `ConfigError` line
    naming the variable that is wrong."""
    if not overrides and not sms_configured():
        return None
    try:
        return TwilioSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else ""
        variable = f"TWILIO_{field.upper()}" if field else "TWILIO_MESSAGING_SERVICE_SID"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "not set (needed for the SMS channel)"
        raise ConfigError(f"{variable}: {message}") from None


def status_line() -> str:
    """For start-up: whether SMS is on, and if not, what is missing (one line)."""
    settings = load_twilio_settings()
    if settings is None:
        return "SMS (Twilio): off (TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN not set)"
    sender = "messaging service" if settings.messaging_service_sid else "number"
    return f"SMS (Twilio): on (sending from a {sender})"

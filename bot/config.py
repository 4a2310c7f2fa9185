"""Settings from the environment (and `.env`) and the program file (YAML)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import UserError
from bot.followup.settings import FollowupSettings
from bot.paths import dialogues_dir


class ConfigError(UserError):
    """A setting or the program file is wrong; the message is one line naming what and why."""


def default_data_dir() -> Path:
    """The folder for the SQLite file and demo keys: `./doorway-data` under the working dir."""
    return Path.cwd() / "doorway-data"


class Settings(BaseSettings):
    """Process settings. Every channel and component adds its own typed settings elsewhere."""

    model_config = SettingsConfigDict(
        env_prefix="DOORWAY_", env_file=".env", extra="ignore", env_file_encoding="utf-8"
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    program: Path | None = None
    public_url: str = "http://127.0.0.1:8000"
    secret_key: str | None = None
    encryption_keys: str | None = None
    index_key: str | None = None
    log_format: Literal["text", "json"] = "text"
    rasa_url: str | None = None
    rasa_token: str | None = None

    @field_validator("public_url")
    @classmethod
    def _public_url_is_http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file in the data folder."""
        return self.database_url or f"sqlite:///{self.data_dir / 'doorway.sqlite3'}"

    @property
    def program_path(self) -> Path:
        return self.program or dialogues_dir() / "program.demo.yaml"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


def load_settings(**overrides: Any) -> Settings:
    """Read settings; a bad value becomes one `ConfigError` line naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "?"
        raise ConfigError(f"DOORWAY_{field.upper()}: {error['msg']}") from None


# --- the program file -------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QuietHours(_Strict):
    """The window in which scheduled (not conversational) texts may go out."""

    start: dt.time = dt.time(9, 0)
    end: dt.time = dt.time(20, 0)
    days: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)  # Monday = 0

    @model_validator(mode="after")
    def _start_before_end(self) -> QuietHours:
        if self.start >= self.end:
            raise ValueError("start must be before end")
        if any(d < 0 or d > 6 for d in self.days):
            raise ValueError("days are 0 (Monday) to 6 (Sunday)")
        return self


class CrisisResources(_Strict):
    """Numbers differ by place; the US defaults come from public sources."""

    emergency: str = "911"
    suicide_line: str = "988"
    suicide_text_spanish: str = "AYUDA"
    veterans_text: str = "838255"
    treatment_helpline: str = "1-800-662-4357"
    poison_help: str = "1-800-222-1222"
    crisis_text_line: str = "741741"
    good_samaritan: dict[str, str] = Field(default_factory=dict)


class HandoffSettings(_Strict):
    """How offers go out to responders."""

    offer_mode: Literal["sequential", "broadcast"] = "sequential"
    offer_timeout_minutes: int = Field(default=5, ge=1, le=120)
    broadcast_size: int = Field(default=3, ge=1, le=50)
    max_checkins: int = Field(default=2, ge=1, le=10)


class Program(_Strict):
    """One program's settings: who runs it, its languages, its hours and resources."""

    organisation: str
    short_name: str
    hotline: str
    website: str | None = None
    timezone: str = "America/New_York"
    languages: tuple[str, ...] = ("en",)
    default_language: str = "en"
    message_frequency: str = "Msg frequency varies"
    quiet_hours: QuietHours = QuietHours()
    crisis: CrisisResources = CrisisResources()
    handoff: HandoffSettings = HandoffSettings()
    followup: FollowupSettings = FollowupSettings()
    retention_days: int = Field(default=90, ge=1)
    consent_version: str = "2026-01"

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _default_language_enabled(self) -> Program:
        if not self.languages:
            raise ValueError("languages: at least one language must be enabled")
        if self.default_language not in self.languages:
            raise ValueError(f"default_language: {self.default_language!r} is not in languages")
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


def load_program(path: Path) -> Program:
    """Load and validate a program file; errors name the file, the field and the reason."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the program file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the program file must be a mapping of fields")
    try:
        return Program.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"]) or "(top level)"
        raise ConfigError(f"{path}: {field}: {error['msg']}") from None

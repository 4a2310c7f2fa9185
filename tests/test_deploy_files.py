"""The deploy files refer to real commands, real settings and a real health route."""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import build_parser
from bot.config import Settings
from bot.metrics import ServerSettings
from bot.ratelimit import RateLimitSettings
from bot.web.health import HEALTH_PATH
from connectors.telegram_settings import TelegramSettings
from connectors.twilio_settings import TwilioSettings

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
#: Every settings class that reads environment variables, by its prefix.
SETTINGS: list[tuple[str, Any]] = [
    ("DOORWAY_", Settings),
    ("DOORWAY_", ServerSettings),
    ("DOORWAY_RATELIMIT_", RateLimitSettings),
    ("TWILIO_", TwilioSettings),
    ("TELEGRAM_", TelegramSettings),
]


def known_variables() -> set[str]:
    return {
        f"{prefix}{name}".upper() for prefix, settings in SETTINGS for name in settings.model_fields
    }


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) per instruction, of the final stage, continuations joined."""
    text = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    joined = re.sub(r"\\\n", " ", text)
    lines = [line.strip() for line in joined.splitlines()]
    instructions = [
        tuple(line.split(None, 1)) for line in lines if line and not line.startswith("#")
    ]
    last_from = max(i for i, (word, *_rest) in enumerate(instructions) if word == "FROM")
    return [(word.upper(), rest[0] if rest else "") for word, *rest in instructions[last_from:]]


def run_argv(value: str) -> list[str]:
    value = value.strip()
    return list(yaml.safe_load(value)) if value.startswith("[") else shlex.split(value)


def assert_command_exists(argv: list[str]) -> None:
    parser = build_parser()
    try:
        parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on an unknown command or option
        raise AssertionError(f"`doorway {' '.join(argv)}` is not a command") from exc


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_the_image_runs_doorway_serve_as_a_non_root_user() -> None:
    final = dockerfile()
    users = [args for word, args in final if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    entry = run_argv(next(args for word, args in final if word == "ENTRYPOINT"))
    cmd = run_argv(next(args for word, args in final if word == "CMD"))
    assert entry == ["doorway"]
    assert cmd[0] == "serve"
    assert_command_exists(cmd)


def test_no_build_tools_in_the_final_image() -> None:
    runs = " ".join(args for word, args in dockerfile() if word == "RUN")
    assert "build-essential" not in runs and "gcc" not in runs


def test_the_healthcheck_calls_a_route_the_app_has() -> None:
    check = next(args for word, args in dockerfile() if word == "HEALTHCHECK")
    assert f"127.0.0.1:8000{HEALTH_PATH}'" in check


def test_compose_commands_exist() -> None:
    services = compose()["services"]
    commands = {name: s.get("command") for name, s in services.items() if "command" in s}
    assert commands["migrate"] == ["db", "upgrade"]
    assert commands["app"][0] == "serve" and "--workers" in commands["app"]
    assert [name for name, c in commands.items() if c == ["worker"]] == ["worker-1", "worker-2"]
    for argv in commands.values():
        assert_command_exists(argv)


def test_compose_uses_postgres_with_a_volume() -> None:
    loaded = compose()
    db = loaded["services"]["db"]
    assert db["image"].startswith("postgres:")
    assert any(str(v).endswith(":/var/lib/postgresql/data") for v in db["volumes"])
    assert "pgdata" in loaded["volumes"]


@pytest.mark.parametrize("service", ["app", "worker-1", "worker-2", "migrate"])
def test_every_variable_in_compose_is_a_real_setting(service: str) -> None:
    environment = compose()["services"][service]["environment"]
    unknown = sorted(
        name
        for name in environment
        if name.startswith(("DOORWAY_", "TWILIO_", "TELEGRAM_")) and name not in known_variables()
    )
    assert unknown == []
    assert environment["DOORWAY_DATABASE_URL"].startswith("postgresql+psycopg://")


def test_the_argparse_helper_rejects_unknown_commands() -> None:
    with pytest.raises(AssertionError):
        assert_command_exists(["no-such-command"])
    assert isinstance(build_parser(), argparse.ArgumentParser)

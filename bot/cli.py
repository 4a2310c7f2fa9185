"""The `doorway` command: demo, serve, chat, database, dialogue and handoff tools."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from sqlalchemy import select

from bot.config import ConfigError, Settings, load_program, load_settings
from bot.crypto import generate_encryption_key, generate_index_key
from bot.db import upgrade
from bot.dialogue.loader import load_all, texts
from bot.keys import with_local_keys
from bot.models import Handoff
from bot.paths import dialogues_dir
from bot.services import Services, build_services

Handler = Callable[[argparse.Namespace], int]


def _settings() -> Settings:
    return load_settings()


def _services(settings: Settings, *, announce: Callable[[str], None] | None = None) -> Services:
    """Services for a command; on SQLite, local keys fill in, on PostgreSQL keys are required."""
    if settings.is_sqlite:
        settings, note = with_local_keys(settings)
        if note and announce:
            announce(note)
    return build_services(settings)


def channel_status() -> list[str]:
    """One line per optional channel saying whether it is on, and if not, what is missing."""
    import os

    lines = []
    if os.environ.get("TWILIO_ACCOUNT_SID") and os.environ.get("TWILIO_AUTH_TOKEN"):
        lines.append("SMS (Twilio): on")
    else:
        lines.append("SMS (Twilio): off (TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN not set)")
    if os.environ.get("TELEGRAM_BOT_TOKEN"):
        lines.append("Telegram: on")
    else:
        lines.append("Telegram: off (TELEGRAM_BOT_TOKEN not set)")
    return lines


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import seed_demo

    settings = _settings()
    if not settings.is_sqlite:
        raise ConfigError("DOORWAY_DATABASE_URL: the demo runs on SQLite; unset it to use one")
    services = _services(settings, announce=print)
    upgrade(services.engine)
    added = seed_demo(services)
    print(f"Database: {services.settings.resolved_database_url} (migrated)")
    print(f"Program: {services.program.organisation} ({settings.program_path})")
    if added:
        print(f"Seeded {added} demo coaches with on-call shifts covering every hour.")
    return _run_server(services, args.host, args.port)


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings()
    if not settings.is_sqlite and not (settings.encryption_keys and settings.index_key):
        raise ConfigError(
            "DOORWAY_ENCRYPTION_KEYS: required with PostgreSQL (`doorway keys generate`)"
        )
    services = _services(settings, announce=print)
    upgrade(services.engine)
    return _run_server(services, args.host, args.port)


def _run_server(services: Services, host: str, port: int) -> int:
    import uvicorn

    from bot.web.app import create_app

    for line in channel_status():
        print(line)
    print(f"Doorway is running: http://{host}:{port}/  (Ctrl-C to stop)")
    sys.stdout.flush()
    uvicorn.run(create_app(services), host=host, port=port, log_level="warning")
    return 0


def cmd_chat(args: argparse.Namespace) -> int:
    from connectors.console import ConsoleConnector

    settings = _settings()
    services = _services(settings, announce=lambda line: print(line, file=sys.stderr))
    upgrade(services.engine)
    console = ConsoleConnector(services)
    console.converse(
        sys.stdin, address=args.address, language=args.language, prompt=sys.stdin.isatty()
    )
    return 0


def cmd_db_upgrade(_args: argparse.Namespace) -> int:
    settings = _settings()
    services = _services(settings)
    upgrade(services.engine)
    print(f"Database is up to date: {services.engine.url.render_as_string(hide_password=True)}")
    return 0


def cmd_dialogues_check(args: argparse.Namespace) -> int:
    folder = dialogues_dir()
    specs, problems = load_all(folder)
    program_problem = None
    try:
        load_program(folder / "program.demo.yaml")
    except ConfigError as exc:
        program_problem = str(exc)
    if program_problem:
        print(program_problem)
    for problem in problems:
        print(problem)
    if problems or program_problem:
        return 1
    steps = sum(len(s.steps) for s in specs.values())
    strings = sum(len(texts(s)) for s in specs.values())
    print(f"OK: {len(specs)} dialogues, {steps} steps, {strings} strings")
    return 0


def cmd_handoffs_list(args: argparse.Namespace) -> int:
    settings = _settings()
    services = _services(settings)
    with services.sessions() as session:
        rows = session.scalars(select(Handoff).order_by(Handoff.id)).all()
        for handoff in rows:
            item = {
                "id": handoff.id,
                "code": handoff.code,
                "status": handoff.status,
                "urgency": handoff.urgency,
                "pathway": handoff.pathway,
                "language": handoff.language,
                "created_at": handoff.created_at.isoformat(),
            }
            if args.json:
                print(json.dumps(item))
            else:
                print(
                    f"{item['id']:>5}  {item['code']}  {item['status']:<10} {item['urgency']:<9} "
                    f"{item['pathway']:<20} {item['language']:<6} {item['created_at']}"
                )
    return 0


def cmd_keys_generate(_args: argparse.Namespace) -> int:
    print(f"DOORWAY_ENCRYPTION_KEYS={generate_encryption_key()}")
    print(f"DOORWAY_INDEX_KEY={generate_index_key()}")
    print(f"DOORWAY_SECRET_KEY={generate_index_key()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="doorway", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    for name, handler, help_text in (
        ("demo", cmd_demo, "run the demo program on SQLite with the web chat"),
        ("serve", cmd_serve, "run the web app (webhooks, web chat)"),
    ):
        command = sub.add_parser(name, help=help_text)
        command.add_argument("--host", default="127.0.0.1")
        command.add_argument("--port", type=int, default=8000)
        command.set_defaults(func=handler)

    chat = sub.add_parser("chat", help="talk to the bot in the terminal (reads stdin)")
    chat.add_argument("--address", default="terminal", help="who you are (any text)")
    chat.add_argument("--language", default=None, help="a language code, e.g. es")
    chat.set_defaults(func=cmd_chat)

    db = sub.add_parser("db", help="database tools").add_subparsers(dest="db", required=True)
    db.add_parser("upgrade", help="create or migrate the schema").set_defaults(func=cmd_db_upgrade)

    dialogues = sub.add_parser("dialogues", help="dialogue tools").add_subparsers(
        dest="dialogues", required=True
    )
    check = dialogues.add_parser("check", help="validate every flow")
    check.set_defaults(func=cmd_dialogues_check)

    handoffs = sub.add_parser("handoffs", help="handoff tools").add_subparsers(
        dest="handoffs", required=True
    )
    listing = handoffs.add_parser("list", help="list handoffs")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(func=cmd_handoffs_list)

    keys = sub.add_parser("keys", help="encryption keys").add_subparsers(dest="keys", required=True)
    keys.add_parser("generate", help="print new keys").set_defaults(func=cmd_keys_generate)

    _register_optional(sub)
    return parser


def _register_optional(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Components that own their commands add them here."""
    from bot.nlu import cli as nlu_cli

    nlu_cli.register(sub)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler = args.func
    try:
        return handler(args)
    except ConfigError as exc:
        print(f"doorway: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""The `doorway` command: demo, serve, chat, database, dialogue and handoff tools."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import TYPE_CHECKING

from bot.config import ConfigError, Settings, load_program, load_settings
from bot.crypto import generate_encryption_key, generate_index_key
from bot.db import upgrade
from bot.dialogue.lint import run_language_checks
from bot.dialogue.loader import load_all, texts
from bot.errors import UserError
from bot.heap import limit_malloc_arenas
from bot.keys import with_local_keys
from bot.logs import configure_logging
from bot.metrics_folder import shared_between_processes
from bot.paths import dialogues_dir
from bot.services import Services, build_services

if TYPE_CHECKING:  # the web app's types, imported by the commands that serve
    import uvicorn
    from fastapi import FastAPI

    from connectors.base import Connector

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


def command_services() -> Services:
    """Services for a management command, on a migrated database."""
    services = _services(_settings())
    upgrade(services.engine)
    return services


def channel_status() -> list[str]:
    """One line per optional channel saying whether it is on, and if not, what is missing."""
    from connectors.telegram_cli import status_line
    from connectors.twilio_settings import status_line as sms_status_line

    lines = [sms_status_line()]
    lines.append(status_line())  # reads TELEGRAM_* the way the connector does (.env too)
    return lines


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import seed_demo

    limit_malloc_arenas()  # before any thread
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
    return _run_server(services, args.host, args.port, telegram_polling=args.telegram_polling)


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings()
    if not settings.is_sqlite and not (settings.encryption_keys and settings.index_key):
        raise ConfigError(
            "DOORWAY_ENCRYPTION_KEYS: required with PostgreSQL (`doorway keys generate`)"
        )
    preforked = args.workers > 1 or args.outbox_workers > 0
    if preforked and (settings.is_sqlite or args.telegram_polling):
        raise ConfigError(
            "--workers, --outbox-workers: more than one process needs PostgreSQL "
            "(DOORWAY_DATABASE_URL) and webhooks, not --telegram-polling; SQLite serves from "
            "one process, with the outbox worker inside it"
        )
    if args.workers < 1 or args.outbox_workers < 0:
        raise ConfigError("--workers: 1 or more; --outbox-workers: 0 or more")
    limit_malloc_arenas()  # before any thread; forked processes inherit it
    with shared_between_processes() if preforked else nullcontext():
        services = _services(settings, announce=print)
        upgrade(services.engine)
        if preforked:
            return _serve_preforked(
                services,
                args.host,
                args.port,
                servers=args.workers,
                outbox_workers=args.outbox_workers,
            )
        return _run_server(services, args.host, args.port, telegram_polling=args.telegram_polling)


def _serve_preforked(
    services: Services, host: str, port: int, *, servers: int, outbox_workers: int
) -> int:
    """Server and outbox processes forked from this one once it has loaded everything, so
    they share its memory (bot/web/prefork.py); one server forks its outbox workers itself
    (bot/web/outbox_children.py)."""
    import uvicorn

    from bot.outbox import load_outbox_settings
    from bot.outbox.cli import send_until_stopped
    from bot.web.app import create_app
    from bot.web.factory import GRACE_SECONDS
    from bot.web.outbox_children import OutboxChildren
    from bot.web.prefork import Role, Supervisor

    connectors = _channels(services)
    config = _server_config(create_app(services, connectors), host, port)
    sock = config.bind_socket()  # each server process accepts on it
    outbox = load_outbox_settings()
    services.engine.dispose()  # no connection may be shared across the fork

    def serve() -> int:
        services.engine.dispose(close=False)  # the parent's pool is the parent's
        try:
            uvicorn.Server(config).run(sockets=[sock])
        finally:
            services.close()
        return 0

    def send() -> int:
        services.engine.dispose(close=False)
        sock.close()  # an outbox process takes no requests
        try:
            return send_until_stopped(services, outbox)
        finally:
            services.close()

    _announce(
        f"Outbox worker: {_processes(outbox_workers)} of its own"
        if outbox_workers
        else "Outbox worker: off here (run `doorway worker`)",
        f"Doorway is running: http://{host}:{port}/ with {_processes(servers)} serving",
    )
    # Each child has the grace period for itself; the parent allows for the outbox's send.
    grace = GRACE_SECONDS + outbox.send_timeout_seconds
    if servers == 1:
        # The server is the outbox workers' parent: a page both write exists twice, not three
        # times as under a supervisor (bot/web/outbox_children.py).
        outbox_children = OutboxChildren(send, outbox_workers, grace)
        outbox_children.start()
        try:
            outbox_children.outlive_server_signals()
            serve()
        finally:
            clean = outbox_children.stop()
        return 0 if clean else 1
    roles = [Role("server", serve)] * servers + [Role("outbox worker", send)] * outbox_workers
    return Supervisor(roles, grace).run()


def _processes(count: int) -> str:
    return f"{count} process" if count == 1 else f"{count} processes"


def _channels(services: Services, *, telegram_polling: bool = False) -> list[Connector]:
    """The channels, registered with the services, and the models warmed before serving."""
    from bot.web.factory import connectors_for

    connectors = connectors_for(services, telegram_polling=telegram_polling)
    services.connectors.update({c.name: c for c in connectors})
    services.warm_up()
    return connectors


def _server_config(app: FastAPI, host: str, port: int) -> uvicorn.Config:
    """SIGTERM: stop taking requests, let in-flight ones finish (within the grace period)."""
    import uvicorn

    from bot.web.factory import GRACE_SECONDS

    return uvicorn.Config(
        app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=GRACE_SECONDS
    )


def _announce(*lines: str) -> None:
    """What the operator sees once serving is ready: each channel's state, then `lines`.
    Start-up objects are frozen last (bot.heap)."""
    from bot.heap import freeze_startup_objects

    for line in (*channel_status(), *lines):
        print(line)
    sys.stdout.flush()
    freeze_startup_objects()


def _run_server(services: Services, host: str, port: int, *, telegram_polling: bool) -> int:
    import asyncio

    import uvicorn

    from bot.outbox import BackgroundWorker, load_outbox_settings
    from bot.web.app import create_app

    connectors = _channels(services, telegram_polling=telegram_polling)
    telegram = next((c for c in connectors if c.name == "telegram"), None)
    outbox = load_outbox_settings()
    in_process = services.settings.is_sqlite if outbox.in_process is None else outbox.in_process
    worker = BackgroundWorker(services, outbox) if in_process else None
    config = _server_config(create_app(services, connectors, worker=worker), host, port)
    _announce(
        "Outbox worker: " + ("in this process" if worker else "off here (run `doorway worker`)"),
        f"Doorway is running: http://{host}:{port}/  (Ctrl-C to stop)",
    )
    if telegram is not None and telegram_polling:
        from connectors.telegram import TelegramConnector
        from connectors.telegram_cli import serve_with_polling

        assert isinstance(telegram, TelegramConnector)
        asyncio.run(serve_with_polling(uvicorn.Server(config), telegram))
    else:
        uvicorn.Server(config).run()
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
    if args.segments:
        from bot.sms.report import segment_check

        return segment_check(load_program(_settings().program_path))
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
    language_problems = run_language_checks(specs, folder)
    for language_problem in language_problems:
        print(language_problem)
    if problems or program_problem or language_problems:
        return 1
    steps = sum(len(s.steps) for s in specs.values())
    strings = sum(len(texts(s)) for s in specs.values())
    print(f"OK: {len(specs)} dialogues, {steps} steps, {strings} strings")
    return 0


def cmd_keys_generate(_args: argparse.Namespace) -> int:
    print(f"DOORWAY_ENCRYPTION_KEYS={generate_encryption_key()}")
    print(f"DOORWAY_INDEX_KEY={generate_index_key()}")
    print(f"DOORWAY_SECRET_KEY={generate_index_key()}")
    return 0


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command-line parser; given the command word, with only the components it needs."""
    parser = argparse.ArgumentParser(prog="doorway", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    for name, handler, help_text in (
        ("demo", cmd_demo, "run the demo program on SQLite with the web chat"),
        ("serve", cmd_serve, "run the web app (webhooks, web chat)"),
    ):
        server = sub.add_parser(name, help=help_text)
        server.add_argument("--host", default="127.0.0.1")
        server.add_argument("--port", type=int, default=8000)
        server.add_argument(
            "--telegram-polling",
            action="store_true",
            help="fetch Telegram updates by long polling (local development, no webhook)",
        )
        server.set_defaults(func=handler)
    sub.choices["serve"].add_argument(
        "--workers", type=int, default=1, help="server processes (more than 1 needs PostgreSQL)"
    )
    sub.choices["serve"].add_argument(
        "--outbox-workers",
        type=int,
        default=0,
        help="outbox worker processes forked beside the servers (PostgreSQL; "
        "they share the servers' memory, unlike a separate `doorway worker`)",
    )

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
    check.add_argument(
        "--segments",
        action="store_true",
        help="list every outbound text per locale with its SMS encoding and segments "
        "(exit 1 if an English text is over 2 segments)",
    )
    check.set_defaults(func=cmd_dialogues_check)

    keys = sub.add_parser("keys", help="encryption keys").add_subparsers(dest="keys", required=True)
    keys.add_parser("generate", help="print new keys").set_defaults(func=cmd_keys_generate)

    _register_optional(sub, command)
    return parser


#: Components that own their commands: each module has `register(subparsers)` and adds the
#: top-level commands listed beside it. A command line imports only the components that own
#: its command, so `doorway responders list` starts without the web, Telegram or NLU code.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "bot.nlu.cli": ("nlu",),
    "bot.outbox.cli": ("worker", "outbox"),
    "bot.privacy_commands": ("keys", "purge", "contacts"),  # keys rotate beside keys generate
    "bot.handoff.cli": ("responders", "shifts", "oncall", "handoffs"),
    "bot.referrals": ("referral-codes",),
    "bot.responder_links": ("responders",),  # after bot.handoff.cli: joins its group
    "connectors.telegram_cli": ("telegram",),
    "bot.i18n_cli": ("i18n",),
    "bot.followup.cli": ("followup", "teams"),
    "bot.console.users": ("users",),
    "bot.console.report": ("report",),
}


def _register_optional(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], command: str | None
) -> None:
    """Register the components owning `command`; all of them when it is None or unknown (so
    `--help` and a mistyped command list every choice)."""
    owners = [name for name, commands in COMMAND_MODULES.items() if command in commands]
    if not owners and command not in sub.choices:  # not a core command either
        owners = list(COMMAND_MODULES)
    for name in owners:
        importlib.import_module(name).register(sub)


def command_word(argv: Sequence[str]) -> str | None:
    """The top-level command of a command line, or None when it starts with an option."""
    return argv[0] if argv and not argv[0].startswith("-") else None


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(command_word(words)).parse_args(words)
    handler: Handler = args.func
    try:
        configure_logging(_settings().log_format)
        return handler(args)
    except UserError as exc:
        print(f"doorway: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

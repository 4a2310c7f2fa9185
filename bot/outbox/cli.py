"""`doorway worker [--once]` and `doorway outbox status`."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json

from bot.outbox.runner import BackgroundWorker
from bot.outbox.settings import load_outbox_settings
from bot.outbox.status import outbox_status
from bot.outbox.worker import run_once
from bot.services import Services


def _services_with_channels() -> Services:
    from bot.cli import command_services
    from bot.web.factory import connectors_for

    services = command_services()
    # The web app's modules register every component's timers: the same set `serve` has.
    importlib.import_module("bot.web.app")
    services.connectors.update({c.name: c for c in connectors_for(services)})
    return services


def cmd_worker(args: argparse.Namespace) -> int:
    settings = load_outbox_settings()
    services = _services_with_channels()
    try:
        if args.once:
            handled = asyncio.run(run_once(services, limit=args.limit, settings=settings))
            print(f"Handled {handled} outbox jobs.")
            return 0
        channels = ", ".join(sorted(services.connectors)) or "none"
        print(f"Outbox worker running (channels: {channels}; Ctrl-C to stop)", flush=True)
        asyncio.run(BackgroundWorker(services, settings).run())
        return 0
    finally:
        services.close()


def cmd_outbox_status(args: argparse.Namespace) -> int:
    from bot.cli import command_services

    services = command_services()
    try:
        status = outbox_status(services)
    finally:
        services.close()
    if args.json:
        print(json.dumps(status.__dict__))
    else:
        print("\n".join(status.lines()))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker = sub.add_parser("worker", help="send queued messages and fire timers (the outbox)")
    worker.add_argument("--once", action="store_true", help="one batch of due jobs, then exit")
    worker.add_argument("--limit", type=int, default=None, help="jobs in that batch")
    worker.set_defaults(func=cmd_worker)
    outbox = sub.add_parser("outbox", help="outbox tools").add_subparsers(
        dest="outbox", required=True
    )
    status = outbox.add_parser("status", help="queued, due, failed jobs and the lag")
    status.add_argument("--json", action="store_true", help="one JSON object")
    status.set_defaults(func=cmd_outbox_status)

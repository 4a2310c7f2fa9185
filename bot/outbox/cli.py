"""`doorway worker [--once]` and `doorway outbox status`."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.heap import freeze_startup_objects, limit_malloc_arenas
from bot.outbox.prune import prune_finished_jobs
from bot.outbox.runner import BackgroundWorker
from bot.outbox.settings import OutboxSettings, load_outbox_settings
from bot.outbox.status import outbox_status
from bot.outbox.worker import Worker, load_timers
from bot.services import Services
from bot.web.prefork import end_with_parent_if_asked

T = TypeVar("T")


def _services_with_channels() -> Services:
    from bot.cli import command_services
    from bot.web.factory import connectors_for

    services = command_services()
    load_timers()  # the same set `serve` has (a test compares them)
    services.connectors.update({c.name: c for c in connectors_for(services)})
    return services


def cmd_worker(args: argparse.Namespace) -> int:
    end_with_parent_if_asked()  # a forked outbox worker's replacement: not past its server
    limit_malloc_arenas()  # before any thread
    settings = load_outbox_settings()
    services = _services_with_channels()
    try:
        if args.once:
            worker = Worker(services, settings)
            handled = asyncio.run(
                _until_signalled(worker.run_once(limit=args.limit), worker.request_stop)
            )
            print(f"Handled {handled} outbox jobs.")
            return 0
        channels = ", ".join(sorted(services.connectors)) or "none"
        print(f"Outbox worker running (channels: {channels}; Ctrl-C to stop)", flush=True)
        return send_until_stopped(services, settings)
    finally:
        services.close()


def send_until_stopped(services: Services, settings: OutboxSettings) -> int:
    """The outbox's rounds until SIGTERM or SIGINT (`doorway worker`, and each outbox process
    `serve --outbox-workers` forks)."""
    background = BackgroundWorker(services, settings)
    freeze_startup_objects()
    asyncio.run(_until_signalled(background.run(), background.request_stop))
    return 0


async def _until_signalled(work: Awaitable[T], stop: Callable[[], None]) -> T:
    """Run `work` with SIGTERM (a deploy, systemd, Docker) and SIGINT (Ctrl-C) calling `stop`
    instead of killing the process: the send in hand finishes and the rest of the batch goes
    back to the queue at once instead of waiting out the lease."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop)
    return await work


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


def cmd_outbox_prune(args: argparse.Namespace) -> int:
    from bot.cli import command_services

    days = args.days if args.days is not None else load_outbox_settings().keep_days
    services = command_services()
    try:
        count = prune_finished_jobs(
            services, services.clock(), dt.timedelta(days=days), dry_run=args.dry_run
        )
    finally:
        services.close()
    verb = "would be deleted" if args.dry_run else "deleted"
    print(f"Finished outbox jobs older than {days} days: {count} {verb}.")
    return 0


def _positive_days(text: str) -> int:
    days = int(text)
    if days < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return days


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
    prune = outbox.add_parser(
        "prune", help="delete finished jobs (the worker does this every hour by itself)"
    )
    prune.add_argument(
        "--days", type=_positive_days, help="keep this many days (DOORWAY_OUTBOX_KEEP_DAYS)"
    )
    prune.add_argument("--dry-run", action="store_true", help="count only, change nothing")
    prune.set_defaults(func=cmd_outbox_prune)

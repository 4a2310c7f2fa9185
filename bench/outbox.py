"""Outbox dispatch benchmark: N due messages sent through the real Twilio connector to a
loopback dummy of Twilio's API, rate limit off; 1 and 3 workers on PostgreSQL, 1 on SQLite.

Run from the repository root: `python -m bench.outbox [N] [--provider-latency S]
[--concurrency C]` (default 100000 messages, the API answering at once, the worker's default
concurrency). Writes bench/results/outbox.json. Not run by CI. PostgreSQL comes from
TEST_DATABASE_URL.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench.common import (  # noqa: E402
    ACCOUNT_SID,
    AUTH_TOKEN,
    MESSAGING_SERVICE_SID,
    DummyProvider,
    own_schema,
    write_json,
)
from bot.config import Settings  # noqa: E402
from bot.crypto import generate_encryption_key, generate_index_key  # noqa: E402
from bot.db import upgrade  # noqa: E402
from bot.models import ChannelIdentity, Contact, Message, OutboxJob  # noqa: E402
from bot.nlu.base import Parse  # noqa: E402
from bot.outbox import Worker, load_outbox_settings  # noqa: E402
from bot.services import Services, build_services  # noqa: E402

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
#: Spawned workers read the parent's keys from the environment (a fresh import would differ).
KEYS = {
    "encryption_keys": os.environ.setdefault("BENCH_ENCRYPTION_KEYS", generate_encryption_key()),
    "index_key": os.environ.setdefault("BENCH_INDEX_KEY", generate_index_key()),
}
PEOPLE = 1000  # messages are spread over this many addresses (the worker locks per person)


class NoNlu:
    """The benchmark never parses a message."""

    def parse(self, text: str, language: str) -> Parse:
        raise AssertionError("not used")


def services_for(url: str, data_dir: Path) -> Services:
    settings = Settings(
        database_url=url,
        data_dir=data_dir,
        encryption_keys=KEYS["encryption_keys"],
        index_key=KEYS["index_key"],
    )
    return build_services(settings, interpreter=NoNlu())


def seed(services: Services, count: int) -> None:
    """`count` queued messages with due send jobs, written in bulk."""
    now = dt.datetime.now(dt.UTC)
    with services.engine.begin() as connection:
        connection.execute(
            sa.insert(Contact), [{"created_at": now, "language": "en"} for _ in range(PEOPLE)]
        )
        contact_ids = list(connection.scalars(sa.select(Contact.id).order_by(Contact.id)))
        connection.execute(
            sa.insert(ChannelIdentity),
            [
                {
                    "contact_id": cid,
                    "channel": "sms",
                    "address_index": f"bench-{cid}",
                    "address": f"+1212555{cid % 10000:04d}",
                    "opted_out": False,
                    "unreachable": False,
                    "created_at": now,
                }
                for cid in contact_ids
            ],
        )
        identity_ids = list(
            connection.scalars(sa.select(ChannelIdentity.id).order_by(ChannelIdentity.id))
        )
        for start in range(0, count, 5000):
            size = min(5000, count - start)
            first = connection.scalar(sa.select(sa.func.coalesce(sa.func.max(Message.id), 0)))
            connection.execute(
                sa.insert(Message),
                [
                    {
                        "identity_id": identity_ids[(start + i) % len(identity_ids)],
                        "direction": "out",
                        "channel": "sms",
                        "body": "Hi from Doorway Demo, checking in. Reply STOP to cancel.",
                        "status": "queued",
                        "created_at": now,
                    }
                    for i in range(size)
                ],
            )
            rows = connection.execute(
                sa.select(Message.id, Message.identity_id).where(Message.id > first)
            ).all()
            connection.execute(
                sa.insert(OutboxJob),
                [
                    {
                        "kind": "send",
                        "status": "pending",
                        "idempotency_key": f"bench:{mid}",
                        "due_at": now,
                        "scheduled": False,
                        "attempts": 0,
                        "identity_id": iid,
                        "message_id": mid,
                        "payload": {},
                        "created_at": now,
                    }
                    for mid, iid in rows
                ],
            )


def work(url: str, api_base: str, data_dir: str, concurrency: int | None) -> None:
    """One worker process: rounds until nothing is due."""
    from connectors.twilio_settings import load_twilio_settings
    from connectors.twilio_sms import TwilioSmsConnector

    services = services_for(url, Path(data_dir))
    twilio = load_twilio_settings(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        messaging_service_sid=MESSAGING_SERVICE_SID,
        api_base=api_base,
    )
    assert twilio is not None
    services.connectors["sms"] = TwilioSmsConnector(services, twilio)
    settings = load_outbox_settings(
        rate_per_second=0,
        batch_size=200,
        lease_seconds=300,
        **({"concurrency": concurrency} if concurrency else {}),
    )

    async def rounds() -> None:
        worker = Worker(services, settings)
        while await worker.run_once():
            pass

    asyncio.run(rounds())
    services.close()


def run_case(
    backend: str, workers: int, count: int, *, latency: float, concurrency: int | None
) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="doorway-bench-"))
    base = f"sqlite:///{data_dir / 'bench.sqlite3'}" if backend == "sqlite" else PG_URL
    with own_schema(base) as url:
        services = services_for(url, data_dir)
        upgrade(services.engine)
        seed(services, count)
        with DummyProvider(latency) as dummy:
            context = multiprocessing.get_context("spawn")
            processes = [
                context.Process(target=work, args=(url, dummy.base_url, str(data_dir), concurrency))
                for _ in range(workers)
            ]
            started = time.perf_counter()
            for process in processes:
                process.start()
            for process in processes:
                process.join()
            elapsed = time.perf_counter() - started
            delivered = dummy.calls
        with services.sessions() as session:
            sent = session.scalar(
                sa.select(sa.func.count()).select_from(Message).where(Message.status == "sent")
            )
        services.close()
    return {
        "backend": backend,
        "workers": workers,
        "messages": count,
        "provider_latency_seconds": latency,
        "concurrency": concurrency or "default",
        "delivered_to_dummy": delivered,
        "marked_sent": sent,
        "seconds": round(elapsed, 2),
        "messages_per_second": round(count / elapsed, 1),
        "under_60s": elapsed < 60,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="outbox dispatch through a dummy Twilio API")
    parser.add_argument("count", type=int, nargs="?", default=100_000)
    parser.add_argument("--provider-latency", type=float, default=0.0, help="seconds per send")
    parser.add_argument("--concurrency", type=int, help="jobs at once per worker")
    parser.add_argument("--cases", default="postgresql:1,postgresql:3,sqlite:1")
    args = parser.parse_args()
    cases = [(case.split(":")[0], int(case.split(":")[1])) for case in args.cases.split(",")]
    results = []
    for backend, workers in cases:
        result = run_case(
            backend,
            workers,
            args.count,
            latency=args.provider_latency,
            concurrency=args.concurrency,
        )
        print(json.dumps(result))
        results.append(result)
    out = write_json(
        "outbox.json",
        {
            "benchmark": "outbox dispatch through the fake Twilio API, rate limit off",
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "results": results,
        },
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

"""From a person's handoff request to the coach's alert leaving the outbox: median and p99.

Not run by CI. People complete the intake concurrently (threads calling `receive()`, as the
webhook routes do), while the outbox worker runs as in `doorway serve`; the alert "leaves"
when the connector's `send` is called. Writes bench/results/handoff.json.

    python -m bench.handoff --people 200 --concurrency 8 [--database URL]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ClassVar

from sqlalchemy import select

from bench.common import own_schema
from bot.config import Settings
from bot.conversations import receive
from bot.crypto import generate_encryption_key, generate_index_key
from bot.db import transaction, upgrade
from bot.models import Event, Responder, Shift
from bot.outbox import BackgroundWorker, load_outbox_settings
from bot.ratelimit import InboundLimiter
from bot.services import Services, build_services
from connectors.base import Capabilities, Connector, InboundMessage, OutboundMessage, SendResult

OUT = Path(__file__).resolve().parent / "results" / "handoff.json"
INTAKE = ["I need help please", "1", "Sam", "yes", "1", "asap", "1"]
COACH = "+12125550177"


class Recorder(Connector):
    """An SMS stand-in that notes when each alert to the coach is sent."""

    name: ClassVar[str] = "sms"
    capabilities: ClassVar[Capabilities] = Capabilities()

    def __init__(self) -> None:
        self.alerts: dict[str, float] = {}
        self.lock = threading.Lock()

    async def send(self, message: OutboundMessage) -> SendResult:
        if message.address == COACH and message.text.startswith("New request "):
            code = message.text.split()[2]
            with self.lock:
                self.alerts.setdefault(code, time.time())
        return SendResult(provider_id=f"SM{time.time_ns()}")


def add_coach(services: Services) -> None:
    """One coach on call around the clock, with room for every handoff of the run."""
    with transaction(services.sessions) as session:
        coach = Responder(
            name="Bench Coach",
            display_name="Bench",
            role="peer_recovery_coach",
            languages=["en"],
            skills=[],
            capacity=1_000_000,
            active=True,
            sms_phone=COACH,
            sms_index=services.vault.blind_index("sms", COACH),
            created_at=services.clock(),
        )
        session.add(coach)
        session.flush()
        for day in range(7):
            session.add(
                Shift(
                    responder_id=coach.id,
                    kind="weekly",
                    weekday=day,
                    start_time=dt.time(0),
                    end_time=dt.time(0),
                    available=True,
                )
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database", default=None)
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="doorway-bench-"))
    with own_schema(args.database or f"sqlite:///{data / 'bench.sqlite3'}") as url:
        result = measure(args, data, url)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result))


def measure(args: argparse.Namespace, data: Path, url: str) -> dict[str, object]:
    """Requests from `args.people` people at once, timed from request to the coach's alert."""
    settings = Settings(
        data_dir=data,
        database_url=url,
        encryption_keys=generate_encryption_key(),
        index_key=generate_index_key(),
    )
    services = build_services(settings)
    services.inbound_limiter = InboundLimiter(per_minute=1_000_000)
    upgrade(services.engine)
    services.interpreter.parse("hi", "en")
    recorder = Recorder()
    services.connectors["sms"] = recorder
    add_coach(services)

    def person(n: int) -> None:
        for i, text in enumerate(INTAKE):
            receive(
                services,
                InboundMessage("web", f"bench-{n}", text, f"b{n}-{i}", services.clock()),
                reply_inline=True,
            )  # receive() wakes the worker for what it queued, as in a server

    async def run() -> float:
        worker = BackgroundWorker(services, load_outbox_settings(rate_per_second=0))
        services.on_queued.append(worker.wake)
        await worker.start()
        started = time.time()
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            await asyncio.gather(
                *(loop.run_in_executor(pool, person, n) for n in range(args.people))
            )
        deadline = time.time() + 60
        while len(recorder.alerts) < args.people and time.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await worker.stop()
        return time.time() - started

    elapsed = asyncio.run(run())
    with services.sessions() as session:
        requested = {
            e.handoff_id: e.created_at.timestamp()
            for e in session.scalars(select(Event).where(Event.kind == "handoff_requested"))
            if e.handoff_id is not None  # always set on this kind; the column is nullable
        }
        from bot.models import Handoff

        codes = {h.id: h.code for h in session.scalars(select(Handoff))}
    delays = sorted(
        recorder.alerts[codes[h]] - at for h, at in requested.items() if codes[h] in recorder.alerts
    )
    services.close()
    return {
        "date": dt.date.today().isoformat(),
        "backend": "postgresql" if args.database else "sqlite",
        "people": args.people,
        "concurrency": args.concurrency,
        "alerts": len(delays),
        "median_ms": round(statistics.median(delays) * 1000, 1) if delays else None,
        "p99_ms": round(delays[max(0, int(len(delays) * 0.99) - 1)] * 1000, 1) if delays else None,
        "wall_s": round(elapsed, 1),
    }


if __name__ == "__main__":
    main()

"""Load generator: simulated people complete the intake through signed webhooks.

Runs in its own process against `doorway serve` (started here on a temporary data folder,
or attached with --url). Each person waits for the reply before the next message.

    python -m bench.load --mode closed --concurrency 32 --duration 20
    python -m bench.load --mode open --rate 200 --duration 20
    python -m bench.load --database postgresql+psycopg://postgres@127.0.0.1/bench --mode closed

Writes bench/results/<--out> (default load.json) and prints a summary. Not run by CI.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import dataclasses
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.common import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    MESSAGING_SERVICE_SID,
    SMS_PATH,
    TELEGRAM_PATH,
    TELEGRAM_SECRET,
    DummyProvider,
    RssSampler,
    ServerProcess,
    cpu_seconds,
    free_port,
    io_counts,
    own_schema,
    percentile,
    require_loopback,
    server_environment,
    twilio_signature,
    write_json,
)
from bench.http import HttpError, LeanClient

#: A complete intake (tests/transcripts/01_talk_today_full.yaml): 7 messages to a handoff.
INTAKE = ("hi", "1", "Sam", "yes", "call me", "Afternoon", "1")
HOTLINE = "+15550100000"
FIRST_WORDS_IN_SPANISH = "Hola, necesito hablar con alguien sobre mi consumo"
#: Warm-up people are numbered from here, far from the measured ones.
WARMUP = 500_000_000
#: A repeated measured run's people are numbered from its index times this.
REPEAT_PEOPLE = 10_000_000


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    #: When each answered message was sent (perf_counter), beside its latency: the tail by
    #: second tells a stall (a pause, a checkpoint) from a queue that is always there.
    sent_at: list[float] = field(default_factory=list)
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    completed: int = 0
    people_done: int = 0
    sent: int = 0


#: Message SIDs and Telegram update ids, shared by every target of a run: a warm-up's ids must
#: never come back in the measured run, or the server replays them as a provider's retries
#: (until 2026-12-05 each target counted from 0, and most measured messages were such replays).
MESSAGE_NUMBERS = itertools.count()


@dataclass
class Target:
    url: str
    public_url: str
    telegram_share: float
    timeout: float
    #: Added to every person's number, so a warm-up's people are never reused.
    first_person: int = 0

    def sms_request(self, person: int, text: str) -> tuple[str, bytes, dict[str, str]]:
        sid = "SM" + format(next(MESSAGE_NUMBERS) + (os.getpid() << 40), "032x")
        params = {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "Body": text,
            "From": f"+1{2012000000 + person}",
            "MessageSid": sid,
            "MessagingServiceSid": MESSAGING_SERVICE_SID,
            "NumMedia": "0",
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "SmsStatus": "received",
            "To": HOTLINE,
        }
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "x-twilio-signature": twilio_signature(AUTH_TOKEN, self.public_url + SMS_PATH, params),
        }
        return SMS_PATH, urlencode(params).encode(), headers

    def telegram_request(self, person: int, text: str) -> tuple[str, bytes, dict[str, str]]:
        # Unique across runs, as the SMS SIDs are: a PostgreSQL database is reused from run
        # to run with new keys, and an update id seen before is looked up as a retry.
        number = next(MESSAGE_NUMBERS) + (os.getpid() << 24)
        user = {"id": 10_000_000 + person, "is_bot": False, "first_name": "P"}
        update = {
            "update_id": number,
            "message": {
                "message_id": number,
                "date": int(time.time()),
                "chat": {"id": user["id"], "type": "private"},
                "from": {**user, "language_code": "en"},
                "text": text,
            },
        }
        headers = {
            "content-type": "application/json",
            "x-telegram-bot-api-secret-token": TELEGRAM_SECRET,
        }
        return TELEGRAM_PATH, json.dumps(update).encode(), headers

    def uses_telegram(self, person: int) -> bool:
        return self.telegram_share > 0 and (person % 100) < self.telegram_share * 100


async def send_one(
    client: LeanClient, target: Target, person: int, text: str, stats: Stats
) -> bool:
    """One message; True when it was answered (TwiML with a reply, or 200 for Telegram)."""
    person += target.first_person
    telegram = target.uses_telegram(person)
    path, body, headers = (
        target.telegram_request(person, text) if telegram else target.sms_request(person, text)
    )
    stats.sent += 1
    started = time.perf_counter()
    try:
        response = await client.post(path, body, headers)
    except TimeoutError:
        stats.errors["timeout"] += 1
        return False
    except HttpError as exc:
        stats.errors[f"connection: {exc}"] += 1
        return False
    elapsed = time.perf_counter() - started
    if response.status != 200:
        stats.errors[f"http_{response.status}"] += 1
        return False
    if not telegram and b"<Message>" not in response.body:
        stats.errors["no_reply"] += 1  # answered empty: the reply went to the outbox
        return False
    stats.latencies.append(elapsed)
    stats.sent_at.append(started)
    stats.completed += 1
    return True


async def person(
    client: LeanClient, target: Target, number: int, stats: Stats, deadline: float
) -> None:
    for text in INTAKE:
        if time.monotonic() >= deadline:
            return
        if not await send_one(client, target, number, text, stats):
            return  # a person whose message failed stops, as a real person might
    stats.people_done += 1


async def closed_loop(
    target: Target, *, concurrency: int, people: int, duration: float, stats: Stats
) -> float:
    """`concurrency` people at a time, each starting as another finishes."""
    numbers = iter(range(people))
    deadline = time.monotonic() + duration

    async def lane(client: LeanClient) -> None:
        for number in numbers:
            if time.monotonic() >= deadline:
                return
            await person(client, target, number, stats, deadline)

    started = time.monotonic()
    async with _client(target, concurrency) as client:
        await asyncio.gather(*(lane(client) for _ in range(concurrency)))
    return time.monotonic() - started


async def open_loop(
    target: Target, *, rate: float, people: int, duration: float, stats: Stats, max_open: int
) -> float:
    """Messages offered at a fixed `rate` a second whatever the replies do: each tick sends
    the next message of a person whose previous reply came back, or starts a new person."""
    ready: collections.deque[tuple[int, int]] = collections.deque()
    new_people = iter(range(people))
    in_flight: set[asyncio.Task[None]] = set()
    deadline = time.monotonic() + duration

    async def step(client: LeanClient, number: int, index: int) -> None:
        if await send_one(client, target, number, INTAKE[index], stats):
            if index + 1 < len(INTAKE):
                ready.append((number, index + 1))
            else:
                stats.people_done += 1

    started = time.monotonic()
    async with _client(target, max_open) as client:
        for tick in itertools.count():
            due = started + tick / rate
            if due >= deadline:
                break
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            if len(in_flight) >= max_open:
                stats.errors["client_backlog"] += 1  # offered but the client could not send
                continue
            if ready:
                number, index = ready.popleft()
            else:
                next_person = next(new_people, None)
                if next_person is None:
                    break
                number, index = next_person, 0
            task = asyncio.create_task(step(client, number, index))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.wait(in_flight, timeout=target.timeout + 1)
    return time.monotonic() - started


def _client(target: Target, connections: int) -> LeanClient:
    return LeanClient(target.url, connections=connections, timeout=target.timeout)


def summary(
    stats: Stats,
    elapsed: float,
    rss: dict[str, int],
    extra: dict[str, Any],
    pss: dict[str, int] | None = None,
) -> dict[str, Any]:
    pss = pss or {}
    lat = stats.latencies
    return {
        **extra,
        "elapsed_seconds": round(elapsed, 2),
        "sent": stats.sent,
        "completed": stats.completed,
        "people_completed_intake": stats.people_done,
        "messages_per_second": round(stats.completed / elapsed, 1) if elapsed else 0.0,
        "latency_ms": {
            "median": round(percentile(lat, 0.5) * 1000, 1),
            "p95": round(percentile(lat, 0.95) * 1000, 1),
            "p99": round(percentile(lat, 0.99) * 1000, 1),
            "max": round(max(lat, default=0.0) * 1000, 1),
        },
        "slowest_seconds": slowest_seconds(stats),
        "errors": dict(stats.errors),
        "peak_rss_mb": {name: round(value / 2**20, 1) for name, value in rss.items()},
        # Forked processes share pages; PSS divides each among its sharers.
        "peak_pss_mb": {name: round(value / 2**20, 1) for name, value in pss.items()},
    }


def slowest_seconds(stats: Stats, count: int = 5) -> list[dict[str, float]]:
    """The run's seconds with the worst p99, each with its share of the run's slowest
    hundredth: a tail made of one or two seconds is a stall, one spread over all is a queue."""
    if not stats.latencies:
        return []
    first = min(stats.sent_at)
    tail_from = percentile(stats.latencies, 0.99)
    by_second: dict[int, list[float]] = collections.defaultdict(list)
    for sent, latency in zip(stats.sent_at, stats.latencies, strict=True):
        by_second[int(sent - first)].append(latency)
    tail = sum(1 for latency in stats.latencies if latency >= tail_from)
    ranked = sorted(by_second.items(), key=lambda item: percentile(item[1], 0.99), reverse=True)
    return [
        {
            "second": second,
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
            "share_of_tail": round(sum(1 for v in latencies if v >= tail_from) / tail, 2),
        }
        for second, latencies in ranked[:count]
    ]


def _io_line(per_message: dict[str, float] | None) -> str:
    if not per_message:
        return ""
    return (
        f"reads {per_message['syscr']}/msg ({per_message['rchar'] / 1024:.1f} kB)  "
        f"writes {per_message['syscw']}/msg  disk {per_message['write_bytes'] / 1024:.1f} kB/msg  "
    )


def print_summary(result: dict[str, Any]) -> None:
    lat = result["latency_ms"]
    print(
        f"{result['mode']:>6} {result.get('offered', ''):>10}  "
        f"{result['messages_per_second']:>7} msg/s  "
        f"p50 {lat['median']} ms  p95 {lat['p95']} ms  p99 {lat['p99']} ms  "
        f"completed {result['completed']}/{result['sent']}  errors {result['errors'] or '-'}  "
        f"server CPU {result.get('server_cpu_ms_per_message', '-')} ms/msg  "
        f"{_io_line(result.get('server_io_per_message'))}"
        f"peak RSS {result['peak_rss_mb']}  PSS {result.get('peak_pss_mb') or '-'}"
    )
    if "runs" in result:
        each = ", ".join(
            f"{run['messages_per_second']} msg/s p99 {run['latency_ms']['p99']} ms"
            for run in result["runs"]
        )
        print(f"{'':>18}(the median-p99 run of {len(result['runs'])}: {each})")
    if result.get("slowest_seconds"):
        worst = ", ".join(
            f"s{entry['second']} {entry['p99_ms']} ms ({entry['share_of_tail']:.0%} of the tail)"
            for entry in result["slowest_seconds"]
        )
        print(f"{'':>18}slowest seconds: {worst}")


async def first_words_in_another_language(target: Target) -> None:
    """One person opens in Spanish, long enough for language detection: the intake's "hi"
    never is, and the detector's memory belongs in the peak RSS."""
    async with _client(target, 1) as client:
        await send_one(client, target, WARMUP - 1, FIRST_WORDS_IN_SPANISH, Stats())


async def run(args: argparse.Namespace, target: Target, stats: Stats) -> float:
    if args.mode == "closed":
        return await closed_loop(
            target,
            concurrency=args.concurrency,
            people=args.people,
            duration=args.duration,
            stats=stats,
        )
    return await open_loop(
        target,
        rate=args.rate,
        people=args.people,
        duration=args.duration,
        stats=stats,
        max_open=args.max_open,
    )


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes] | None:
    """`doorway worker` (PostgreSQL's separate outbox process), when that command exists."""
    probe = subprocess.run(
        [sys.executable, "-m", "bot", "worker", "--help"], env=env, capture_output=True, check=False
    )
    if probe.returncode != 0:
        print("note: `doorway worker` is not available; no outbox process measured")
        return None
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="attach to a running server (loopback only)")
    parser.add_argument("--public-url", help="the DOORWAY_PUBLIC_URL of an attached server")
    parser.add_argument("--database", help="database URL for a started server (default SQLite)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (PostgreSQL)")
    parser.add_argument(
        "--outbox-worker",
        action="store_true",
        help="run the outbox as `doorway worker` beside the server, not inside it",
    )
    parser.add_argument(
        "--outbox-workers",
        type=int,
        default=0,
        help="outbox processes `doorway serve --outbox-workers N` forks (PostgreSQL)",
    )
    parser.add_argument(
        "--no-outbox", action="store_true", help="no outbox worker at all (isolates inbound)"
    )
    parser.add_argument(
        "--outbox-inside",
        action="store_true",
        help="the outbox worker inside the server on PostgreSQL too (SQLite's default)",
    )
    parser.add_argument("--mode", choices=("closed", "open"), default="closed")
    parser.add_argument("--concurrency", type=int, default=32, help="closed loop: people at once")
    parser.add_argument("--rate", type=float, default=200.0, help="open loop: messages/second")
    parser.add_argument("--max-open", type=int, default=2000, help="open loop: client cap")
    parser.add_argument("--people", type=int, default=1_000_000, help="at most this many people")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load (bounded)")
    parser.add_argument(
        "--warmup",
        type=float,
        default=10.0,
        help="seconds of load not counted (first handoffs, first sends)",
    )
    parser.add_argument("--timeout", type=float, default=15.0, help="per request (Twilio's)")
    parser.add_argument("--telegram-share", type=float, default=0.0, help="0..1 of people")
    parser.add_argument(
        "--provider-latency", type=float, default=0.0, help="seconds the dummy API takes per send"
    )
    parser.add_argument(
        "--outbound-rate",
        type=float,
        default=1.0,
        help="the server's DOORWAY_OUTBOX_RATE_PER_SECOND (1: a US long code; 0: no limit)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measured runs against the same server; the summary is the median-p99 run",
    )
    parser.add_argument("--rest", type=float, default=0.0, help="seconds idle between repeats")
    parser.add_argument("--out", default="load.json")
    parser.add_argument("--profile", type=Path, help="py-spy output (.svg, or .txt collapsed)")
    return parser


def outbox_placement(args: argparse.Namespace) -> str:
    """Where the run's outbox worker was, as the JSON result says it."""
    if args.no_outbox:
        return "off"
    if args.outbox_worker:
        return "separate"
    if args.outbox_workers:
        return f"forked x{args.outbox_workers}"
    return "inside" if args.outbox_inside else "default"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    result = asyncio_main(args)
    write_json(args.out, result)
    print_summary(result)
    return 0


def asyncio_main(
    args: argparse.Namespace, *, after_prepare: Callable[[dict[str, str]], None] | None = None
) -> dict[str, Any]:
    """Start (or attach to) a server, run the load, and return the summary."""
    args.duration = min(args.duration, 600.0)  # bounded, whatever was asked
    extra: dict[str, Any] = {
        "mode": args.mode,
        "offered": f"{args.rate:g}/s" if args.mode == "open" else f"c={args.concurrency}",
        "date": time.strftime("%Y-%m-%d"),
        "cpus": os.cpu_count(),
        "telegram_share": args.telegram_share,
        "provider_latency_seconds": args.provider_latency,
        "outbound_rate_per_second": args.outbound_rate,
        "outbox": outbox_placement(args),
    }
    if args.url:
        require_loopback(args.url)
        target = Target(args.url, args.public_url or args.url, args.telegram_share, args.timeout)
        stats = Stats()
        elapsed = asyncio.run(run(args, target, stats))
        return summary(stats, elapsed, {}, {**extra, "server": "attached"})

    with (
        tempfile.TemporaryDirectory(prefix="doorway-bench-") as folder,
        own_schema(args.database or f"sqlite:///{Path(folder) / 'doorway.sqlite3'}") as url,
        DummyProvider(args.provider_latency) as dummy,
    ):
        data = Path(folder)
        port = free_port()
        env = server_environment(
            data_dir=data,
            database_url=url,
            port=port,
            provider=dummy.base_url,
            telegram=args.telegram_share > 0,
        )
        env["DOORWAY_OUTBOX_RATE_PER_SECOND"] = str(args.outbound_rate)
        if args.outbox_worker or args.no_outbox:
            env["DOORWAY_OUTBOX_IN_PROCESS"] = "false"
        elif args.outbox_inside:
            env["DOORWAY_OUTBOX_IN_PROCESS"] = "true"
        prepare(env)
        if after_prepare is not None:
            after_prepare(env)
        server = ServerProcess(env, port, workers=args.workers, outbox_workers=args.outbox_workers)
        server.start()
        worker = start_worker(env, data / "worker.log") if args.outbox_worker else None
        roots = {"server": server.process.pid}  # type: ignore[union-attr]
        if worker is not None:
            roots["worker"] = worker.pid
        target = Target(server.url, server.url, args.telegram_share, args.timeout)
        try:
            asyncio.run(first_words_in_another_language(target))
            if args.warmup > 0:
                warm = argparse.Namespace(**{**vars(args), "duration": args.warmup})
                warm_target = Target(
                    server.url, server.url, args.telegram_share, args.timeout, first_person=WARMUP
                )
                asyncio.run(run(warm, warm_target, Stats()))
            extra.update(database=url.split(":", 1)[0], workers=args.workers)
            runs = []
            for number in range(args.repeat):
                if number and args.rest > 0:
                    time.sleep(args.rest)
                # New people each run: earlier runs' people have ended their intake.
                fresh = dataclasses.replace(target, first_person=number * REPEAT_PEOPLE)
                runs.append(measure(args, fresh, Stats(), roots, dummy, extra))
            return median_run(runs)
        finally:
            server.stop()
            if worker is not None:
                worker.terminate()
                worker.wait(30)


def measure(
    args: argparse.Namespace,
    target: Target,
    stats: Stats,
    roots: dict[str, int],
    dummy: DummyProvider,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """One measured run against a started server: latency, throughput, CPU and peak RSS."""
    cpu_before = cpu_seconds(roots["server"])
    io_before = io_counts(roots["server"])
    calls_before = dummy.calls
    profiler = start_profiler(args.profile, roots["server"], args.duration)
    client_cpu_before = time.process_time()
    with RssSampler(roots).running() as sampler:
        elapsed = asyncio.run(run(args, target, stats))
    client_cpu = time.process_time() - client_cpu_before
    if profiler is not None:
        profiler.wait(60)
    measured = dict(extra)
    # CPU per message is what a shared, noisy machine cannot blur: capacity per core.
    cpu = cpu_seconds(roots["server"]) - cpu_before
    measured["server_cpu_ms_per_message"] = (
        round(cpu / stats.completed * 1000, 2) if stats.completed else None
    )
    # The generator shares the machine: when it nears a full core, it is the limit.
    measured["client_cpu_ms_per_message"] = (
        round(client_cpu / stats.completed * 1000, 2) if stats.completed else None
    )
    # What the database costs in system calls: a page SQLite's cache lacks is a pread.
    io = io_counts(roots["server"])
    measured["server_io_per_message"] = {
        key: round((io[key] - io_before[key]) / stats.completed, 1) if stats.completed else None
        for key in io
    }
    measured["load_average"] = os.getloadavg()[0]
    rss = dict(sampler.peaks)
    rss["total"] = sum(sampler.peaks.values())
    pss = dict(sampler.pss_peaks)
    pss["total"] = sum(sampler.pss_peaks.values())
    measured["provider_calls"] = dummy.calls - calls_before
    return summary(stats, elapsed, rss, measured, pss)


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median p99, with every run's headline figures beside it: one run on a
    shared machine can be a slow stretch, and a median of several is what a ratio compares."""
    ranked = sorted(runs, key=lambda run: run["latency_ms"]["p99"])
    chosen = dict(ranked[(len(ranked) - 1) // 2])
    if len(runs) > 1:
        chosen["runs"] = [
            {
                "messages_per_second": run["messages_per_second"],
                "latency_ms": run["latency_ms"],
                "server_cpu_ms_per_message": run["server_cpu_ms_per_message"],
                "server_io_per_message": run.get("server_io_per_message"),
                "errors": run["errors"],
            }
            for run in runs
        ]
    return chosen


def start_profiler(out: Path | None, pid: int, seconds: float) -> subprocess.Popen[bytes] | None:
    """py-spy (installed separately) samples the server while the load runs: where time goes."""
    if out is None:
        return None
    command = ["py-spy", "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate"]
    command += ["200", "--subprocesses", "--nonblocking", "--gil", "-o", str(out)]
    if out.suffix == ".txt":
        command += ["--format", "raw"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def prepare(env: dict[str, str]) -> None:
    """Migrate the database the way `doorway db upgrade` does, with the server's settings."""
    from sqlalchemy import create_engine

    from bot.db import upgrade

    engine = create_engine(env["DOORWAY_DATABASE_URL"])
    try:
        upgrade(engine)
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())

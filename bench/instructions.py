"""Instructions per message, counted by valgrind's callgrind: a figure a shared machine does
not blur.

On this kind of machine the same load run gives 130 msg/s one minute and 210 the next (the
host's other tenants change the CPU's speed), so a 10 % change cannot be seen in msg/s.
Instructions executed are the same from run to run for the same code and input.

    python -m bench.instructions                    # the webhook path: ASGI app, signature,
                                                    # receive(), TwiML (no uvicorn, no HTTP)
    python -m bench.instructions --path receive     # receive() alone
    python -m bench.instructions --path queued      # receive() with the replies queued for
                                                    # the outbox, as on Telegram
    python -m bench.instructions --path handoff     # the outbox's work for one handoff:
                                                    # routing, the coach's alert, the timers
    python -m bench.instructions --people 20 --database postgresql+psycopg://...
    python -m bench.instructions --timed --people 300   # no valgrind: CPU ms per message
                                                    # in this process (quick; run it under
                                                    # py-spy for a fine-grained profile)

Simulated people complete the intake (7 messages each) after a warm-up; only the measured
people are counted (callgrind_control zeroes the counters after the warm-up and dumps them
at the end). Needs `valgrind` (apt-get install valgrind). About 90 s for 20 people.
Writes bench/results/instructions-<path>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from bench.common import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    MESSAGING_SERVICE_SID,
    ROOT,
    SMS_PATH,
    speed_probe,
    twilio_signature,
    write_json,
)
from bench.load import HOTLINE, INTAKE

if TYPE_CHECKING:
    from bot.services import Services

WARMUP_PEOPLE = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--path", choices=("webhook", "receive", "queued", "handoff"), default="webhook"
    )
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--database", help="database URL (default: a fresh SQLite file)")
    parser.add_argument(
        "--timed", action="store_true", help="no valgrind: CPU time in this process instead"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args))
        return
    if args.timed:
        _report_timed(args, asyncio.run(child(args)))
        return
    with tempfile.TemporaryDirectory(prefix="doorway-instructions-") as folder:
        out = Path(folder) / "callgrind.out"
        command = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            # The real interpreter: a wrapper script (pyenv's shim) would be measured instead.
            os.path.realpath(sys.executable),
            "-m",
            "bench.instructions",
            "--child",
            "--path",
            args.path,
            "--people",
            str(args.people),
            *(["--database", args.database] if args.database else []),
        ]
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            sys.exit(f"the measured run failed:\n{done.stderr[-3000:]}")
        dumps = sorted(Path(folder).glob("callgrind.out.*"))  # the dump made at the end
        if not dumps:
            sys.exit("callgrind wrote no dump: is callgrind_control on the PATH?")
        instructions = _summary(dumps[0])
    unit, units, run = _run_described(args)
    per_unit = round(instructions / units)
    result = {
        "benchmark": f"instructions per {unit} (callgrind)",
        **run,
        f"instructions_per_{unit}": per_unit,
        "machine": platform.machine(),
    }
    path = write_json(f"instructions-{args.path}.json", result)
    summary = f"{per_unit / 1e6:.2f} M instructions per {unit} ({units} {unit}s)"
    print(f"{args.path}: {summary} -> {path}")


def _summary(dump: Path) -> int:
    for line in dump.read_text().splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise SystemExit(f"no summary line in {dump}")


def _run_described(args: argparse.Namespace) -> tuple[str, int, dict[str, object]]:
    """What is counted per what: a handoff's work per handoff (one per person), the others
    per message; and the run's description for the JSON."""
    unit = "handoff" if args.path == "handoff" else "message"
    units = args.people if args.path == "handoff" else args.people * len(INTAKE)
    run = {
        "path": args.path,
        "database": "postgresql" if args.database else "sqlite",
        "people": args.people,
        f"{unit}s": units,
        "python": platform.python_version(),
    }
    return unit, units, run


def _report_timed(args: argparse.Namespace, cpu_seconds: float) -> None:
    unit, units, run = _run_described(args)
    result = {
        "benchmark": f"CPU per {unit} in one process (no valgrind)",
        **run,
        f"cpu_ms_per_{unit}": round(cpu_seconds / units * 1e3, 3),
        "cpu_probe_us": round(speed_probe(), 1),
    }
    path = write_json(f"instructions-{args.path}-timed.json", result)
    print(
        f"{args.path}: {result[f'cpu_ms_per_{unit}']} ms CPU per {unit} ({units} {unit}s; "
        f"probe {result['cpu_probe_us']} us: the machine's speed moves this) -> {path}"
    )


def _mark(args: argparse.Namespace, command: str) -> float:
    """Zero (-z) or dump (-d) callgrind's counters; with --timed, the process's CPU time."""
    if args.timed:
        return time.process_time()
    _callgrind(command)
    return 0.0


def _callgrind(command: str) -> None:
    """Zero (-z) or dump (-d) this process's counters."""
    subprocess.run(
        ["callgrind_control", command, str(os.getpid())], capture_output=True, check=True
    )


async def child(args: argparse.Namespace) -> float:
    """The measured process: warm up, zero the counters, run the people, dump. Returns the
    CPU seconds of the measured part with --timed (0 under valgrind)."""
    from bot.config import Settings
    from bot.crypto import generate_encryption_key, generate_index_key
    from bot.db import upgrade
    from bot.heap import freeze_startup_objects
    from bot.services import build_services

    folder = Path(tempfile.mkdtemp(prefix="doorway-instructions-data-"))
    settings = Settings(
        database_url=args.database or f"sqlite:///{folder / 'doorway.sqlite3'}",
        data_dir=folder,
        encryption_keys=generate_encryption_key(),
        index_key=generate_index_key(),
    )
    services = build_services(settings)
    upgrade(services.engine)
    if args.path == "handoff":
        cpu = await _handoffs(services, args)
        services.close()
        return cpu
    send = (
        _webhook_sender(services)
        if args.path == "webhook"
        else _receive_sender(services, reply_inline=args.path == "receive")
    )
    first = 1_000 + (os.getpid() % 1000) * 10_000  # new people on a reused database
    await _people(send, first + 9_000, WARMUP_PEOPLE)
    # As a server does once started (bot.heap): the collector no longer walks start-up objects.
    freeze_startup_objects()
    started = _mark(args, "-z")
    await _people(send, first, args.people)
    cpu = _mark(args, "-d") - started
    services.close()
    return cpu


async def _handoffs(services: Services, args: argparse.Namespace) -> float:
    """Each person asks for a coach (not counted); then the outbox's work is counted: routing
    each request, the coach's alert through a stand-in connector, the timers they set."""
    from bench.handoff import INTAKE as ASKS_FOR_A_COACH
    from bench.handoff import Recorder, add_coach
    from bot.conversations import receive
    from bot.heap import freeze_startup_objects
    from bot.outbox import Worker, load_outbox_settings
    from bot.ratelimit import InboundLimiter
    from connectors.base import InboundMessage

    recorder = Recorder()
    services.connectors["sms"] = recorder
    services.inbound_limiter = InboundLimiter(per_minute=1_000_000)
    add_coach(services)
    worker = Worker(services, load_outbox_settings(rate_per_second=0))

    def ask(first: int, count: int) -> None:
        for person in range(first, first + count):
            for i, text in enumerate(ASKS_FOR_A_COACH):
                inbound = InboundMessage(
                    "web", f"person-{person}", text, f"m{person}-{i}", services.clock()
                )
                receive(services, inbound, reply_inline=True)

    async def drain() -> None:
        while await worker.run_once():
            pass

    ask(9_000, WARMUP_PEOPLE)
    await drain()
    people = args.people
    ask(0, people)
    freeze_startup_objects()
    started = _mark(args, "-z")
    await drain()
    cpu = _mark(args, "-d") - started
    if len(recorder.alerts) != people + WARMUP_PEOPLE:
        raise SystemExit(f"{len(recorder.alerts)} alerts for {people + WARMUP_PEOPLE} handoffs")
    return cpu


#: Sends one person's message and checks that it was answered.
Send = Callable[[int, str], Awaitable[None]]


async def _people(send: Send, first: int, count: int) -> None:
    for person in range(first, first + count):
        for text in INTAKE:
            await send(person, text)


def _receive_sender(services: Services, *, reply_inline: bool) -> Send:
    """receive() called directly. Without `reply_inline` each reply is stored with an outbox
    job, as a Telegram update's are (the sends themselves are not counted)."""
    from bot.conversations import receive
    from connectors.base import InboundMessage

    sids = itertools.count()

    async def send(person: int, text: str) -> None:
        inbound = InboundMessage(
            channel="sms",
            address=f"+1{2012000000 + person}",
            text=text,
            provider_id=f"SM{next(sids):032x}",
            received_at=services.clock(),
        )
        result = receive(services, inbound, reply_inline=reply_inline)
        if not result.replies:
            raise SystemExit(f"no reply to {text!r}")

    return send


def _webhook_sender(services: Services) -> Send:
    """Signed Twilio webhooks straight into the ASGI app (the outbox worker is not started)."""
    from bot.web.app import create_app
    from connectors.twilio_settings import load_twilio_settings
    from connectors.twilio_sms import TwilioSmsConnector

    twilio = load_twilio_settings(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        messaging_service_sid=MESSAGING_SERVICE_SID,
        api_base="http://127.0.0.1:9",
        reply_budget_seconds=600,  # under valgrind everything takes 50 times longer
    )
    assert twilio is not None
    app = create_app(services, [TwilioSmsConnector(services, twilio)])
    public_url = services.settings.public_url
    sids = itertools.count()

    async def send(person: int, text: str) -> None:
        sid = f"SM{next(sids):032x}"
        params = {
            "AccountSid": ACCOUNT_SID,
            "Body": text,
            "From": f"+1{2012000000 + person}",
            "MessageSid": sid,
            "NumMedia": "0",
            "To": HOTLINE,
        }
        body = urlencode(params).encode()
        headers = [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
            (
                b"x-twilio-signature",
                twilio_signature(AUTH_TOKEN, public_url + SMS_PATH, params).encode(),
            ),
        ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": SMS_PATH,
            "raw_path": SMS_PATH.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        requests = [{"type": "http.request", "body": body, "more_body": False}]
        status: list[int] = []
        content = bytearray()

        async def receive_body() -> dict[str, Any]:
            return requests.pop() if requests else {"type": "http.disconnect"}

        async def send_answer(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif message["type"] == "http.response.body":
                content.extend(message.get("body", b""))

        await app(scope, receive_body, send_answer)
        if status != [200] or b"<Message>" not in content:
            raise SystemExit(f"webhook answered {status}: {bytes(content)!r}")

    return send


if __name__ == "__main__":
    main()

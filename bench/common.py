"""Benchmark helpers: Twilio signatures, a dummy provider API, a server subprocess, RSS."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import timeit
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
LOOPBACK = "127.0.0.1"
#: Fictional credentials in the shapes the settings check (AC/MG + 32 hex digits).
ACCOUNT_SID = "AC" + "0" * 31 + "1"
MESSAGING_SERVICE_SID = "MG" + "0" * 31 + "1"
AUTH_TOKEN = "bench-auth-token-not-a-secret"
TELEGRAM_TOKEN = "123456:bench-token-not-a-secret"
TELEGRAM_SECRET = "bench-webhook-secret"
SMS_PATH = "/webhooks/twilio/sms"
TELEGRAM_PATH = "/webhooks/telegram"


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """X-Twilio-Signature as `twilio.request_validator.RequestValidator` computes it: the URL
    followed by every POST parameter (sorted by name) as name+value, HMAC-SHA1, base64."""
    payload = url + "".join(f"{name}{params[name]}" for name in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def require_loopback(url: str) -> None:
    host = httpx.URL(url).host
    if host not in (LOOPBACK, "localhost", "::1"):
        raise SystemExit(f"--url: only loopback addresses are allowed, not {host}")


# --- a dummy provider API ---------------------------------------------------------------------


class DummyProvider:
    """Answers Twilio's Messages.create and Telegram's Bot API with success, on loopback, in
    its own thread, and counts calls. Enough for the outbox to send; nothing is recorded."""

    def __init__(self, latency: float = 0.0) -> None:
        self.port = free_port()
        #: Seconds before each answer: Twilio's API takes about 100-300 ms, loopback none.
        self.latency = latency
        self.calls = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="dummy-provider", daemon=True)
        self._ready = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def __enter__(self) -> DummyProvider:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, LOOPBACK, self.port)
        )
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                path = lines[0].split(" ")[1] if " " in lines[0] else "/"
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip() or 0)
                if length:
                    await reader.readexactly(length)
                if self.latency:
                    await asyncio.sleep(self.latency)
                self.calls += 1
                status, body = self._answer(path)
                writer.write(
                    f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        writer.close()

    def _answer(self, path: str) -> tuple[str, bytes]:
        self_sid = "SM" + format(self.calls, "032x")
        if path.startswith("/bot") or "/bot" in path:
            result = {"message_id": self.calls, "date": 0, "chat": {"id": 1, "type": "private"}}
            if path.endswith("/getMe"):
                result = {"id": 1, "is_bot": True, "first_name": "bench", "username": "bench_bot"}
            return "200 OK", json.dumps({"ok": True, "result": result}).encode()
        return "201 Created", json.dumps(
            {"sid": self_sid, "status": "queued", "account_sid": ACCOUNT_SID}
        ).encode()


# --- a server subprocess ------------------------------------------------------------------------


def server_environment(
    *, data_dir: Path, database_url: str, port: int, provider: str, telegram: bool
) -> dict[str, str]:
    """What `doorway serve` reads, with every provider pointed at the loopback dummy."""
    from bot.crypto import generate_encryption_key, generate_index_key

    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DOORWAY_", "TWILIO_", "TELEGRAM_"))
    }
    env.update(
        {
            "DOORWAY_DATA_DIR": str(data_dir),
            "DOORWAY_DATABASE_URL": database_url,
            "DOORWAY_ENCRYPTION_KEYS": generate_encryption_key(),
            "DOORWAY_INDEX_KEY": generate_index_key(),
            "DOORWAY_SECRET_KEY": "bench-" + "x" * 40,
            "DOORWAY_PUBLIC_URL": f"http://{LOOPBACK}:{port}",
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_MESSAGING_SERVICE_SID": MESSAGING_SERVICE_SID,
            "TWILIO_API_BASE": provider,
            # Every simulated person writes a few times a minute: keep the per-address limit
            # out of the way of what is being measured.
            "DOORWAY_RATELIMIT_INBOUND_PER_MINUTE": "1000",
        }
    )
    if telegram:
        env.update(
            {
                "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
                "TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
                "TELEGRAM_API_BASE": provider + "/bot",
            }
        )
    return env


@dataclass
class ServerProcess:
    """`doorway serve --workers N` in a subprocess: the command an operator runs (on SQLite
    with the outbox worker inside, as by default)."""

    env: dict[str, str]
    port: int
    workers: int = 1
    outbox_workers: int = 0
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "bot",
            "serve",
            "--host",
            LOOPBACK,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            *(("--outbox-workers", str(self.outbox_workers)) if self.outbox_workers else ()),
        ]

    def start(self, timeout: float = 120.0) -> None:
        self.log = Path(self.env["DOORWAY_DATA_DIR"]) / "server.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                self.command(), env=self.env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"the server exited: see {self.log}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            time.sleep(0.2)
        raise SystemExit(f"the server did not start in {timeout:.0f} s: see {self.log}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


# --- memory -------------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(p) for p in (task / "children").read_text().split()]
    return found


def process_tree(pid: int) -> list[int]:
    """The process and all its descendants (uvicorn's workers, multiprocessing helpers)."""
    seen: list[int] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.append(current)
        todo += _children(current)
    return seen


def rss_bytes(pid: int) -> int:
    """Resident set size of one process from /proc (0 once it has gone)."""
    return _kilobytes(Path(f"/proc/{pid}/status"), "VmRSS:") * 1024


def pss_bytes(pid: int) -> int:
    """Proportional set size: the process's private pages plus its share of pages it shares
    with others (a forked server's parent and siblings). Summed over a process tree, it is
    the memory the tree takes, where summed RSS counts shared pages once per process."""
    return _kilobytes(Path(f"/proc/{pid}/smaps_rollup"), "Pss:") * 1024


def _kilobytes(path: Path, key: str) -> int:
    """One "Key:  N kB" line of a /proc file (0 if the process has gone)."""
    try:
        for line in path.read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process tree so far (from /proc/<pid>/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for member in process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return total


#: The counters of /proc/<pid>/io that say what a process asked of the kernel's files.
IO_COUNTERS = ("syscr", "syscw", "rchar", "wchar", "write_bytes")


def io_counts(pid: int) -> dict[str, int]:
    """/proc/<pid>/io summed over the process tree: read and write system calls (`syscr`,
    `syscw`: pread of a database page is one), bytes they moved (`rchar`, `wchar`, the page
    cache's included) and bytes sent to the disk (`write_bytes`). Sockets read with recv
    are not counted."""
    total = dict.fromkeys(IO_COUNTERS, 0)
    for member in process_tree(pid):
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{member}/io").read_text().splitlines():
                key, _, value = line.partition(":")
                if key in total:
                    total[key] += int(value)
    return total


@dataclass
class RssSampler:
    """Samples the RSS of process trees every `interval` seconds and their PSS every
    `pss_every` samples; keeps each tree's peaks. PSS is read from smaps_rollup, about 1.5 ms
    of kernel time per 150 MB process on this machine against 25 µs for RSS: read as often,
    it would take a few percent of a core from the run it measures."""

    roots: dict[str, int]
    interval: float = 0.1
    pss_every: int = 10
    peaks: dict[str, int] = field(default_factory=dict)
    pss_peaks: dict[str, int] = field(default_factory=dict)
    _samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self, *, with_pss: bool | None = None) -> None:
        if with_pss is None:
            with_pss = self._samples % self.pss_every == 0
        self._samples += 1
        for name, root in self.roots.items():
            tree = process_tree(root)
            total = sum(rss_bytes(pid) for pid in tree)
            self.peaks[name] = max(self.peaks.get(name, 0), total)
            if with_pss:
                shared = sum(pss_bytes(pid) for pid in tree)
                self.pss_peaks[name] = max(self.pss_peaks.get(name, 0), shared)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    @contextlib.contextmanager
    def running(self) -> Iterator[RssSampler]:
        self.sample(with_pss=True)
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()
            self.sample(with_pss=True)


@contextlib.contextmanager
def own_schema(url: str) -> Iterator[str]:
    """The URL with this run's tables in a PostgreSQL schema of their own, dropped at the end;
    any other URL as it is.

    A run on a database an earlier run used would inherit its rows, written under other
    keys: its pending timers then fail with `KeysError` at every claim of the new run's outbox
    (thousands of retries a minute, about a third of a core, found on 2026-12-07)."""
    import uuid

    import sqlalchemy as sa

    if not url.startswith("postgresql"):
        yield url
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
        finally:
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation), 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def write_json(name: str, data: object) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def speed_probe() -> float:
    """Microseconds for sum(range(1000)): how fast the machine is right now."""
    return timeit.timeit("sum(range(1000))", number=20_000) / 20_000 * 1e6

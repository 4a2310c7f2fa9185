"""Shared fixtures: databases (SQLite and the real PostgreSQL), services, a clock, no network."""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.config import Program, Settings, load_program
from bot.crypto import generate_encryption_key, generate_index_key
from bot.db import upgrade
from bot.nlu import build_interpreter
from bot.nlu.base import Interpreter
from bot.paths import dialogues_dir
from bot.ratelimit import InboundLimiter
from bot.services import Services, build_services
from tests.fakes.telegram_harness import Harness, running_harness

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TEST_ENCRYPTION_KEY = generate_encryption_key()
TEST_INDEX_KEY = generate_index_key()


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


# --- no network: only loopback ---------------------------------------------------------------

_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: object) -> object:
    host = address[0] if isinstance(address, tuple) else address
    if (
        isinstance(host, str)
        and host not in ("127.0.0.1", "localhost", "::1")
        and not (self.family == socket.AF_UNIX)
    ):
        raise RuntimeError(f"test tried to reach the network: {host}")
    return _real_connect(self, address)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)


# --- databases -------------------------------------------------------------------------------


def _postgres_reachable() -> str | None:
    try:
        engine = sa.create_engine(PG_URL)
        with engine.connect() as connection:
            connection.execute(sa.text("select 1"))
        engine.dispose()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}".splitlines()[0]
    return None


_PG_PROBLEM: list[str | None] = []


def postgres_problem() -> str | None:
    if not _PG_PROBLEM:
        _PG_PROBLEM.append(_postgres_reachable())
    return _PG_PROBLEM[0]


def require_postgres() -> None:
    problem = postgres_problem()
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL at {PG_URL} is required in CI: {problem}")
    pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {problem}")


@pytest.fixture
def pg_schema_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Every storage test runs on both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'doorway.sqlite3'}"
    return str(request.getfixturevalue("pg_schema_url"))


def english_only_program() -> Program:
    """The demo program with English only: most tests are about behaviour, not languages, and
    count replies (a multilingual program adds an offer of languages to a short first
    message). Language tests build their own multilingual programs."""
    demo = load_program(dialogues_dir() / "program.demo.yaml")
    return demo.model_copy(update={"languages": ("en",), "default_language": "en"})


@pytest.fixture(scope="session")
def interpreter() -> Interpreter:
    """The real built-in classifier, trained once per test run."""
    return build_interpreter(["en"])


def make_settings(url: str, data_dir: Path) -> Settings:
    return Settings(
        database_url=url,
        data_dir=data_dir,
        encryption_keys=TEST_ENCRYPTION_KEY,
        index_key=TEST_INDEX_KEY,
        secret_key="test-secret-key-" + "x" * 32,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def migrated_services(
    url: str, tmp_path: Path, interpreter: Interpreter, clock: FakeClock
) -> Iterator[Services]:
    """Services on `url` with the schema migrated, English only, closed afterwards."""
    built = build_services(
        make_settings(url, tmp_path / "data"),
        program=english_only_program(),
        interpreter=interpreter,
        clock=clock,
    )
    built.inbound_limiter = InboundLimiter(per_minute=10_000)  # floods are tested on their own
    upgrade(built.engine)
    try:
        yield built
    finally:
        built.close()


@pytest.fixture
def services(
    database_url: str, tmp_path: Path, interpreter: Interpreter, clock: FakeClock
) -> Iterator[Services]:
    yield from migrated_services(database_url, tmp_path, interpreter, clock)


@pytest.fixture
def sqlite_services(
    tmp_path: Path, interpreter: Interpreter, clock: FakeClock
) -> Iterator[Services]:
    """For tests about behaviour, not storage: SQLite only, to keep the suite quick."""
    url = f"sqlite:///{tmp_path / 'doorway.sqlite3'}"
    yield from migrated_services(url, tmp_path, interpreter, clock)


@pytest.fixture
def postgres_services(
    pg_schema_url: str, tmp_path: Path, interpreter: Interpreter, clock: FakeClock
) -> Iterator[Services]:
    """For what only a server database does: row locks, connections that can be cut."""
    yield from migrated_services(pg_schema_url, tmp_path, interpreter, clock)


@pytest.fixture
async def tg(sqlite_services: Services) -> AsyncIterator[Harness]:
    """The Telegram channel against a local fake of the Bot API."""
    async with running_harness(sqlite_services) as harness:
        yield harness

"""The one services object built at start-up and passed to everything that needs it."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import threading
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Program, Settings, load_program
from bot.crypto import Vault
from bot.db import (
    make_engine,
    read_session_factory,
    session_factory,
    webhooks_pending,
    writer_lock,
)
from bot.dialogue.loader import load_checked
from bot.dialogue.spec import DialogueSpec
from bot.i18n import Catalogs
from bot.nlu.base import Interpreter, Parse
from bot.paths import dialogues_dir, locales_dir
from bot.ratelimit import InboundLimiter, RateLimitSettings
from bot.writer_lock import WriterLock
from connectors.base import Connector

T = TypeVar("T")
Clock = Callable[[], dt.datetime]
CrisisCheck = Callable[[str, str, Parse | None], str | None]


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class LazyInterpreter:
    """Builds the real interpreter on first use, so management commands never train models.

    `doorway serve` calls `warm()` at start-up so the first person never waits for it.
    """

    def __init__(self, factory: Callable[[], Interpreter]) -> None:
        self._factory = factory
        self._built: Interpreter | None = None
        self._lock = threading.Lock()

    @property
    def may_block(self) -> bool:
        """Whether a parse may wait on more than this CPU: building the models, or the built
        interpreter's own answer (a Rasa server's)."""
        return self._built is None or bool(getattr(self._built, "may_block", False))

    def warm(self) -> Interpreter:
        if self._built is None:
            with self._lock:
                if self._built is None:
                    self._built = self._factory()
        return self._built

    def parse(self, text: str, language: str) -> Parse:
        return self.warm().parse(text, language)


@dataclass
class Services:
    """Settings, program, database, dialogues, catalogs and the understanding layer."""

    settings: Settings
    program: Program
    engine: Engine
    sessions: sessionmaker[Session]
    #: For reads only: on SQLite they never wait for a write in flight (`bot.db.reading`).
    read_sessions: sessionmaker[Session]
    vault: Vault
    dialogues: dict[str, DialogueSpec]
    catalogs: Catalogs
    interpreter: Interpreter
    detect_crisis: CrisisCheck
    clock: Clock = system_clock
    #: Slows a flood from one address (never a crisis message): see `bot.ratelimit`.
    inbound_limiter: InboundLimiter = field(
        default_factory=lambda: RateLimitSettings().inbound_limiter()
    )
    #: Channels that can send, by name; filled at start-up from the configured connectors.
    connectors: dict[str, Connector] = field(default_factory=dict)
    #: Called after a commit that queued outbox jobs, with their kinds, to wake the worker.
    on_queued: list[Callable[[Collection[str]], None]] = field(default_factory=list)
    _database_threads: ThreadPoolExecutor | None = field(default=None, repr=False)
    #: Webhook work queued for or running in the database thread.
    _in_thread: int = field(default=0, repr=False)
    _queue_mutex: threading.Lock = field(default_factory=threading.Lock, repr=False)

    async def run_database_work(self, work: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run a webhook's blocking database work, in arrival order.

        On SQLite the work runs right here on the event loop, when its turn at the one writer's
        lock comes (waited for without blocking the loop): handing each message to a thread
        and back, and the two threads' turns at the GIL, cost more CPU than the work itself.
        Work that may wait on more than this CPU (understanding by a Rasa server, models still
        to build) runs in the database thread instead, so the loop never waits for it, and
        whatever came after it follows it there. PostgreSQL gets as many database threads as
        the connection pool.
        """
        lock = self._inline_lock()
        if lock is not None:
            await lock.acquire_on_loop()
            try:
                return work(*args, **kwargs)
            finally:
                lock.release()
        threads = self._threads()
        with self._queue_mutex:
            self._in_thread += 1
        done = threads.submit(functools.partial(work, *args, **kwargs))
        done.add_done_callback(self._left_thread)
        with webhooks_pending(self.engine):
            return await asyncio.wrap_future(done)

    @contextmanager
    def database_turn_at_once(self) -> Iterator[bool]:
        """True, with the writer's turn held for the block, when webhook work may run on the
        event loop right now without waiting; False when it must go through
        `run_database_work`. A channel whose reply has a time budget (Twilio's) then calls its
        work directly: the task and timed wait that guard a queued message are for messages
        that queue (about 1.5 % of a message's CPU on SQLite, where most never wait)."""
        lock = self._inline_lock()
        if lock is None or not lock.try_acquire():
            yield False
            return
        try:
            yield True
        finally:
            lock.release()

    def _inline_lock(self) -> WriterLock | None:
        """The SQLite writer lock when work may run on the event loop (see above)."""
        lock = writer_lock(self.engine)
        if lock is None or self._in_thread or getattr(self.interpreter, "may_block", False):
            return None
        return lock

    def _threads(self) -> ThreadPoolExecutor:
        if self._database_threads is None:
            pool_size: int = getattr(self.engine.pool, "size", lambda: 5)()
            size = 1 if self.engine.dialect.name == "sqlite" else pool_size
            self._database_threads = ThreadPoolExecutor(size, thread_name_prefix="database")
        return self._database_threads

    def _left_thread(self, _done: object) -> None:
        # Run when the work ends or is cancelled before it started: never left counted.
        with self._queue_mutex:
            self._in_thread -= 1

    def warm_up(self) -> None:
        """Load at start-up what the first messages would otherwise wait for, and every
        request behind them on the event loop: the NLU models, the crisis lexicon (96 ms the
        first time) and the language detector (about 21 ms to import and build)."""
        # Imported here: a `doorway worker` process, which never detects a language, does
        # not carry the modules.
        from bot.language_choice import warm_language_detection

        if isinstance(self.interpreter, LazyInterpreter):
            self.interpreter.warm()
        self.detect_crisis("hello", self.program.default_language, None)
        warm_language_detection(self.program.languages)

    def wake_outbox(self, kinds: Collection[str] = ("send", "timer")) -> None:
        """Tell this process's outbox worker that jobs (of these kinds) were committed: it
        runs them now instead of at its next poll."""
        for wake in self.on_queued:
            wake(kinds)

    def close(self) -> None:
        if self._database_threads is not None:
            self._database_threads.shutdown(wait=True)
        self.engine.dispose()


def vault_from_settings(settings: Settings) -> Vault:
    if not settings.encryption_keys or not settings.index_key:
        from bot.config import ConfigError

        missing = "DOORWAY_ENCRYPTION_KEYS" if not settings.encryption_keys else "DOORWAY_INDEX_KEY"
        raise ConfigError(f"{missing}: not set (`doorway keys generate` prints new keys)")
    return Vault.from_keys(settings.encryption_keys, settings.index_key)


def build_services(
    settings: Settings,
    *,
    program: Program | None = None,
    interpreter: Interpreter | None = None,
    clock: Clock = system_clock,
    dialogues_folder: Path | None = None,
) -> Services:
    """Wire everything once; a bad program file or dialogue stops start-up here."""
    from bot.nlu import build_interpreter
    from bot.safety.crisis import detect_crisis

    program = program or load_program(settings.program_path)
    vault = vault_from_settings(settings)
    engine = make_engine(settings.resolved_database_url, vault)
    if interpreter is None:
        languages = list(program.languages)
        interpreter = LazyInterpreter(
            lambda: build_interpreter(
                languages,
                rasa_url=settings.rasa_url,
                rasa_token=settings.rasa_token,
                cache_dir=settings.data_dir / "nlu-cache",
                train_elsewhere=True,
            )
        )
    sessions = session_factory(engine)
    if engine.dialect.name == "postgresql":
        from bot.outbox.wakeups import announce_queued_jobs

        announce_queued_jobs(sessions)  # wakes workers in other processes
    return Services(
        settings=settings,
        program=program,
        engine=engine,
        sessions=sessions,
        read_sessions=read_session_factory(engine),
        vault=vault,
        dialogues=load_checked(dialogues_folder or dialogues_dir()),
        catalogs=Catalogs(locales_dir(), program.default_language),
        interpreter=interpreter,
        detect_crisis=detect_crisis,
        clock=clock,
    )

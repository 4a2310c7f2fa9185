"""What can make a webhook's work wait: the outbox holding SQLite's writer lock, and
understanding that waits on a server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bot.db import transaction
from bot.nlu.base import Interpreter, Parse
from bot.services import Services


class ServerInterpreter:
    """Understanding that waits on a server, as Rasa's does, `delay` seconds a parse."""

    may_block = True

    def __init__(self, fallback: Interpreter, delay: float = 0.0) -> None:
        self.fallback = fallback
        self.delay = delay

    def parse(self, text: str, language: str) -> Parse:
        time.sleep(self.delay)
        return self.fallback.parse(text, language)


@contextmanager
def background_holds_the_lock(services: Services) -> Iterator[threading.Event]:
    """The outbox's work in a transaction until the event is set (at the latest, on exit)."""
    holding, done = threading.Event(), threading.Event()

    def hold() -> None:
        with transaction(services.sessions, background=True):
            holding.set()
            done.wait(5)

    thread = threading.Thread(target=hold)
    thread.start()
    assert holding.wait(5)
    try:
        yield done
    finally:
        done.set()
        thread.join()

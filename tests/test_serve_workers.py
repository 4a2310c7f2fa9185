"""`serve --workers N`: refused on SQLite; on PostgreSQL one person's messages stay in order
across processes, because each message holds the contact's row lock for its transaction."""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.cli import cmd_serve
from bot.config import ConfigError
from bot.db import upgrade
from bot.models import Message
from bot.nlu.base import Interpreter
from bot.services import build_services
from connectors.base import InboundMessage
from tests.conftest import make_settings

ADDRESS = "+12125550177"  # fictional
PROCESSES = 3
EACH = 4


ON_POSTGRESQL = "more than one process needs PostgreSQL"
TOO_FEW = "--workers: 1 or more; --outbox-workers: 0 or more"


@pytest.mark.parametrize(
    ("workers", "outbox_workers", "refusal"),
    [
        (2, 0, ON_POSTGRESQL),
        (1, 1, ON_POSTGRESQL),
        (4, 2, ON_POSTGRESQL),
        (0, 0, TOO_FEW),
        (1, -1, TOO_FEW),
    ],
)
def test_process_counts_refused_on_sqlite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int, outbox_workers: int, refusal: str
) -> None:
    monkeypatch.delenv("DOORWAY_DATABASE_URL", raising=False)
    monkeypatch.setenv("DOORWAY_DATA_DIR", str(tmp_path))
    args = argparse.Namespace(
        host="127.0.0.1",
        port=0,
        workers=workers,
        outbox_workers=outbox_workers,
        telegram_polling=False,
    )
    with pytest.raises(ConfigError, match=re.escape(refusal)):
        cmd_serve(args)


def test_the_serve_command_takes_process_counts() -> None:
    from bot.cli import build_parser

    parsed = build_parser().parse_args(["serve", "--workers", "3", "--outbox-workers", "2"])
    assert (parsed.workers, parsed.outbox_workers) == (3, 2)
    parsed = build_parser().parse_args(["serve"])
    assert (parsed.workers, parsed.outbox_workers) == (1, 0)


_INTERPRETER: list[Interpreter] = []


def _send(url: str, data_dir: str, worker: int, start: multiprocessing.synchronize.Event) -> None:
    """One server process's share: its own engine and pool, the same person."""
    from bot.conversations import receive

    services = build_services(make_settings(url, Path(data_dir)), interpreter=_INTERPRETER[0])
    start.wait(10)
    try:
        for n in range(EACH):
            receive(
                services,
                InboundMessage(
                    channel="sms",
                    address=ADDRESS,
                    text=("hi", "1", "Sam", "yes")[n],
                    provider_id=f"SM{worker:016x}{n:016x}",
                    received_at=dt.datetime.now(dt.UTC),
                ),
                reply_inline=True,
            )
    finally:
        services.close()


def test_one_persons_messages_from_several_processes_stay_in_order(
    pg_schema_url: str, tmp_path: Path, interpreter: Interpreter
) -> None:
    services = build_services(make_settings(pg_schema_url, tmp_path), interpreter=interpreter)
    upgrade(services.engine)
    services.close()
    _INTERPRETER[:] = [interpreter]  # inherited by the forked processes: no retraining
    context = multiprocessing.get_context("fork")
    start = context.Event()
    workers = [
        context.Process(target=_send, args=(pg_schema_url, str(tmp_path), n, start))
        for n in range(PROCESSES)
    ]
    for process in workers:
        process.start()
    start.set()
    for process in workers:
        process.join(60)
    assert [p.exitcode for p in workers] == [0] * PROCESSES

    engine = sa.create_engine(pg_schema_url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                Message.id, Message.direction, Message.reply_to_id, Message.conversation_id
            ).order_by(Message.id)
        ).all()
        identities = connection.execute(sa.text("SELECT count(*) FROM channel_identities")).scalar()
    engine.dispose()
    assert identities == 1  # the first messages raced; one person still
    assert sum(1 for row in rows if row.direction == "in") == PROCESSES * EACH
    # Serialised per person: every reply directly follows the message it answers, never
    # interleaved with another process's message.
    last_in = None
    for row in rows:
        if row.direction == "in":
            last_in = row.id
        else:
            assert row.reply_to_id == last_in
    assert len({row.conversation_id for row in rows}) == 1

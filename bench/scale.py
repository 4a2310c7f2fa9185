"""Scale benchmark: fill a database with many people, then compare load latency to an empty one.

    python -m bench.scale --contacts 100000 --messages 1000000      # moderate
    python -m bench.scale                                           # 1M contacts, 10M messages
    python -m bench.scale --database postgresql+psycopg://postgres@127.0.0.1/bench

Each side is measured `--repeat` times (3) against one server, new people each run, and the
runs with the median p99 are compared: one run on a shared machine can be a slow stretch.

Prints the query plan of every hot query of `receive()` on the filled database and writes
bench/results/scale.json. Not run by CI.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa

from bench import load
from bench.common import write_json

NOW = dt.datetime(2026, 1, 5, 12, 0)
BATCH = 10_000


def plain_tables(engine: sa.Engine) -> dict[str, sa.Table]:
    """The schema with plain column types: bulk rows carry ready-made tokens and naive UTC
    times, so no per-row encryption or conversion runs while filling."""
    from bot.models import Base, Encrypted, UTCDateTime

    metadata = sa.MetaData()
    tables = {}
    for table in Base.metadata.sorted_tables:
        columns = []
        for column in table.columns:
            kind: Any = column.type
            if isinstance(kind, Encrypted):
                kind = sa.Text()
            elif isinstance(kind, UTCDateTime):
                kind = sa.DateTime(timezone=engine.dialect.name != "sqlite")
            columns.append(sa.Column(column.name, kind, primary_key=column.primary_key))
        tables[table.name] = sa.Table(table.name, metadata, *columns)
    return tables


def _time(engine: sa.Engine) -> dt.datetime:
    return NOW if engine.dialect.name == "sqlite" else NOW.replace(tzinfo=dt.UTC)


def _today(engine: sa.Engine) -> dt.datetime:
    """The wall clock's now, as `_time` gives NOW: the server runs on the wall clock."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return now.replace(tzinfo=None) if engine.dialect.name == "sqlite" else now


def fill(env: dict[str, str], *, contacts: int, messages: int, events: int) -> dict[str, float]:
    """Insert the rows in batches; returns seconds per table."""
    from bot.crypto import Vault
    from bot.referrals import DEFAULT_PATHWAY

    vault = Vault.from_keys(env["DOORWAY_ENCRYPTION_KEYS"], env["DOORWAY_INDEX_KEY"])
    # A handful of real Fernet tokens of realistic sizes, reused: the size and shape of the
    # rows is what matters to the database, not that each one is different.
    address_tokens = [vault.encrypt(f"+1300555{i:04d}") for i in range(16)]
    body_tokens = [vault.encrypt("x" * size) for size in (2, 12, 40, 160, 320)]
    engine = sa.create_engine(env["DOORWAY_DATABASE_URL"])
    tables = plain_tables(engine)
    at = _time(engine)
    today = _today(engine)
    timings: dict[str, float] = {}
    per_contact = max(1, messages // max(1, contacts))

    def contacts_rows(start: int, stop: int) -> Iterator[dict[str, Any]]:
        for i in range(start, stop):
            yield {"id": i + 1, "created_at": at, "language": "en"}

    def identity_rows(start: int, stop: int) -> Iterator[dict[str, Any]]:
        for i in range(start, stop):
            address = f"+1{3000000000 + i}"  # never one of the load's (+1201...)
            yield {
                "id": i + 1,
                "contact_id": i + 1,
                "channel": "sms",
                "address_index": vault.blind_index("sms", address),  # unique, like real ones
                "address": address_tokens[i % len(address_tokens)],
                "opted_out": False,
                "unreachable": False,
                "created_at": at,
                "last_inbound_at": at,
            }

    def conversation_rows(start: int, stop: int) -> Iterator[dict[str, Any]]:
        for i in range(start, stop):
            yield {
                "id": i + 1,
                "contact_id": i + 1,
                "identity_id": i + 1,
                "dialogue_id": "intake",
                "step": "done",
                "slots": "{}",
                "misses": 0,
                "status": "ended",
                "language": "en",
                "pathway": DEFAULT_PATHWAY,
                "started_at": at,
                "updated_at": at,
            }

    def message_rows(start: int, stop: int) -> Iterator[dict[str, Any]]:
        for n in range(start, stop):
            contact = n // per_contact % contacts + 1
            inbound = n % 2 == 0
            yield {
                "id": n + 1,
                "conversation_id": contact,
                "identity_id": contact,
                "direction": "in" if inbound else "out",
                "channel": "sms",
                "provider_id": f"SMfill{n:026d}" if inbound else None,
                "reply_to_id": None if inbound else n,
                "body": body_tokens[n % len(body_tokens)],
                "status": "received" if inbound else "sent",
                "created_at": at,
            }

    kinds = ("contact_created", "conversation_started", "step", "consent_given")

    def event_rows(start: int, stop: int) -> Iterator[dict[str, Any]]:
        for n in range(start, stop):
            contact = n % contacts + 1
            yield {
                "id": n + 1,
                "created_at": at,
                "kind": kinds[n % len(kinds)],
                "contact_id": contact,
                "conversation_id": contact,
                "data": {"channel": "sms"},
            }

    def handoff_rows(start: int, stop: int) -> Iterator[dict[str, Any]]:
        # One in ten people has a (closed) handoff. Codes are 8 characters so they can never
        # take one of the 4-character codes the application draws.
        for i in range(start, stop):
            contact = i * 10 + 1
            yield {
                "id": i + 1,
                "code": f"F{i:07d}",
                "conversation_id": contact,
                "contact_id": contact,
                "status": "completed",
                "kind": "coach",
                "urgency": "today",
                "pathway": DEFAULT_PATHWAY,
                "language": "en",
                "channel": "sms",
                "created_at": at,
                "updated_at": at,
            }

    def consent_rows(start: int, stop: int) -> Iterator[dict[str, Any]]:
        for i in range(start, stop):
            contact = i * 2 + 1
            yield {
                "id": i + 1,
                "contact_id": contact,
                "conversation_id": contact,
                "granted": True,
                "version": "2026-01",
                "language": "en",
                "channel": "sms",
                "elements": {},
                "given_at": at,
            }

    def outbox_rows(start: int, stop: int) -> Iterator[dict[str, Any]]:
        # Done sends (one per ten messages), then one follow-up timer per ten people, due in
        # the weeks ahead: what every claim of the worker must not read. Ahead of the wall
        # clock the server runs on, not of the fill's date: timers due at the fill's date
        # would all be overdue, and the measured run would be the worker catching up on them.
        # A send goes to the person of the outbound message it sent (as every real send
        # does: with none, SQLite's ANALYZE found the identity index useless and planned
        # the held-send lookup as a walk of every earlier job); a timer has no address.
        done = messages // 10
        for i in range(start, stop):
            ahead = i >= done
            sent = i * 10 + 1  # an outbound message (odd numbers)
            yield {
                "id": i + 1,
                "kind": "timer" if ahead else "send",
                "status": "pending" if ahead else "done",
                "identity_id": None if ahead else sent // per_contact % contacts + 1,
                "message_id": None if ahead else sent + 1,
                "idempotency_key": f"fill:{i}",
                "due_at": today + dt.timedelta(days=1 + i % 56) if ahead else at,
                "scheduled": False,
                "attempts": 0 if ahead else 1,
                "payload": {"timer": "followup.step", "enrolment_id": 0, "step": 1}
                if ahead
                else {"reply": False},
                "created_at": at,
            }

    plan: list[tuple[str, int, Callable[[int, int], Iterator[dict[str, Any]]]]] = [
        ("contacts", contacts, contacts_rows),
        ("channel_identities", contacts, identity_rows),
        ("conversations", contacts, conversation_rows),
        ("messages", messages, message_rows),
        ("events", events, event_rows),
        ("handoffs", contacts // 10, handoff_rows),
        ("consents", contacts // 2, consent_rows),
        ("outbox_jobs", messages // 10 + contacts // 10, outbox_rows),
    ]
    for name, count, rows in plan:
        table = tables[name]
        started = time.perf_counter()
        with engine.begin() as connection:
            for start in range(0, count, BATCH):
                batch = list(rows(start, min(count, start + BATCH)))
                connection.execute(table.insert(), _complete(table, batch))
        timings[name] = round(time.perf_counter() - started, 1)
        print(f"  {name}: {count:,} rows in {timings[name]} s", flush=True)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            for name in tables:
                # Sequences must continue after the ids given here.
                connection.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT coalesce(max(id), 1) FROM {name}))"
                    )
                )
            connection.execute(sa.text("ANALYZE"))
        else:
            connection.execute(sa.text("ANALYZE"))
    engine.dispose()
    return timings


def _complete(table: sa.Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fill NOT NULL columns a row did not name with a neutral value of the right type."""
    if not rows:
        return rows
    missing = [c for c in table.columns if c.name not in rows[0] and not c.nullable]
    defaults: dict[str, Any] = {}
    for column in missing:
        python = getattr(column.type, "python_type", str)
        defaults[column.name] = {bool: False, int: 0, dict: {}}.get(python, "")
    if defaults:
        for row in rows:
            row.update(defaults)
    return rows


# --- the hot queries of receive() ---------------------------------------------------------------


def hot_queries(index_of_first: str) -> dict[str, Any]:
    """receive()'s lookups and routing's, as the application builds them (values of a filled
    person)."""
    from bot.handoff.booking import BOOKED_TIMES
    from bot.handoff.roster import OPEN_COUNTS
    from bot.models import ChannelIdentity, Consent, Handoff, Message, OutboxJob
    from bot.outbox.claim import abandoned_jobs, waiting_jobs
    from bot.outbox.rows import _job_statement
    from bot.sender import _lock_contact_of, _sender_statement

    sent_after = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return {
        # One statement: identity, contact, latest conversation, responder, pending check-in
        # and pending satisfaction question (bot/sender.py).
        "sender": _sender_statement("sms").params(index=index_of_first, sent_after=sent_after),
        "find and lock the contact (PostgreSQL, before the sender)": _lock_contact_of("sms").params(
            index=index_of_first
        ),
        "dedupe (channel, provider_id), on a retry": sa.select(Message).where(
            Message.channel == "sms", Message.provider_id == "SMfill00000000000000000000000000"
        ),
        "identity by blind index (outbox, console)": sa.select(ChannelIdentity).where(
            ChannelIdentity.channel == "sms", ChannelIdentity.address_index == index_of_first
        ),
        "open handoff": sa.select(Handoff)
        .where(Handoff.contact_id == 1, Handoff.status.in_(("requested", "offered")))
        .order_by(Handoff.id.desc())
        .limit(1),
        "latest consent": sa.select(Consent)
        .where(Consent.contact_id == 1)
        .order_by(Consent.id.desc())
        .limit(1),
        "replies of a message (retry)": sa.select(Message)
        .where(Message.reply_to_id == 1)
        .order_by(Message.id),
        "handoff code taken": sa.select(Handoff.id).where(Handoff.code == "AB23"),
        # The outbox worker's, for every handoff it routes (bot/handoff).
        "open handoffs per responder (routing)": OPEN_COUNTS,
        "times already booked (routing)": BOOKED_TIMES,
        # The outbox's claim, every round, beside the timers weeks ahead (bot/outbox/claim).
        "due timers (outbox claim)": waiting_jobs(timers=True).limit(10),
        "due sends (outbox claim)": waiting_jobs(timers=False).limit(10),
        "abandoned jobs (outbox claim)": abandoned_jobs().limit(10),
        # Before every send: the job, and whether an earlier text to the person waits for its
        # retry (bot/outbox/rows.py).
        "a send's job and any earlier text awaiting retry": _job_statement(ask_held=True).params(
            job_id=1
        ),
        # What STOP, an unreachable number and erasure cancel (as a SELECT: PostgreSQL's
        # EXPLAIN ANALYZE would run the UPDATE).
        "an address's pending jobs (STOP)": sa.select(OutboxJob.id).where(
            OutboxJob.identity_id == 1, OutboxJob.status == "pending"
        ),
    }


def explain(env: dict[str, str]) -> dict[str, list[str]]:
    from bot.crypto import Vault

    vault = Vault.from_keys(env["DOORWAY_ENCRYPTION_KEYS"], env["DOORWAY_INDEX_KEY"])
    engine = sa.create_engine(env["DOORWAY_DATABASE_URL"])
    sqlite = engine.dialect.name == "sqlite"
    plans: dict[str, list[str]] = {}
    with engine.connect() as connection:
        for name, statement in hot_queries(vault.blind_index("sms", "+13000000000")).items():
            prefix = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE, COSTS OFF) "
            compiled = statement.compile(engine)
            if "now" in compiled.binds:
                # The claim's: the time is a parameter, which SQLite cannot write as a literal.
                values = compiled.construct_params({"now": NOW.replace(tzinfo=dt.UTC)})
                found = connection.exec_driver_sql(
                    prefix + str(compiled),
                    tuple(values[key] for key in compiled.positiontup or ()) if sqlite else values,
                )
            else:
                sql = str(statement.compile(engine, compile_kwargs={"literal_binds": True}))
                found = connection.execute(sa.text(prefix + sql))
            plans[name] = [str(row[-1]) for row in found]
    engine.dispose()
    return plans


def uses_index(lines: list[str]) -> bool:
    text = " ".join(lines)
    full_scan = ("SCAN " in text and "USING" not in text) or "Seq Scan" in text
    return not full_scan


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", help="an empty database URL (default: SQLite temp file)")
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--messages", type=int, default=10_000_000)
    parser.add_argument("--events", type=int, default=None, help="default: as many as messages")
    parser.add_argument("--mode", choices=("closed", "open"), default="open")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument(
        "--repeat", type=int, default=3, help="measured runs per side; their median p99 is compared"
    )
    parser.add_argument("--rest", type=float, default=10.0, help="seconds idle between runs")
    parser.add_argument(
        "--settle",
        type=float,
        default=60.0,
        help="seconds idle after the fill (its writes still being flushed) before the load",
    )
    parser.add_argument(
        "--no-outbox",
        action="store_true",
        help="no outbox worker on either side: what the database's size adds to the inbound "
        "path alone, without the bursts of routing and sends that both sides have",
    )
    parser.add_argument("--out", default="scale.json")
    parser.add_argument(
        "--profile", help="py-spy of the filled side's server (.svg, or .txt collapsed)"
    )
    args = parser.parse_args(argv)
    events = args.events if args.events is not None else args.messages

    def load_args(out: str, profile: str | None = None) -> argparse.Namespace:
        return load.build_parser().parse_args(
            [
                "--mode",
                args.mode,
                "--rate",
                str(args.rate),
                "--concurrency",
                str(args.concurrency),
                "--duration",
                str(args.duration),
                "--repeat",
                str(args.repeat),
                "--rest",
                str(args.rest),
                "--out",
                out,
                *(["--database", args.database] if args.database else []),
                *(["--no-outbox"] if args.no_outbox else []),
                *(["--profile", profile] if profile else []),
            ]
        )

    print("empty database:")
    empty = load.asyncio_main(load_args("scale-empty.json"))
    load.print_summary(empty)

    found: dict[str, Any] = {}

    def filled(env: dict[str, str]) -> None:
        # The fill is dated 2026-01-05: a worker keeping the default 30 days would delete its
        # outbox history at start, during the measured run, instead of claiming beside it.
        env["DOORWAY_OUTBOX_KEEP_DAYS"] = "36500"
        print(f"filling: {args.contacts:,} contacts, {args.messages:,} messages, {events:,} events")
        found["fill_seconds"] = fill(
            env, contacts=args.contacts, messages=args.messages, events=events
        )
        found["plans"] = explain(env)
        for name, lines in found["plans"].items():
            mark = "index" if uses_index(lines) else "FULL SCAN"
            print(f"  [{mark}] {name}: {' | '.join(lines)}")
        time.sleep(args.settle)

    print("filled database:")
    full = load.asyncio_main(load_args("scale-filled.json", args.profile), after_prepare=filled)
    load.print_summary(full)
    ratio = full["latency_ms"]["p99"] / max(empty["latency_ms"]["p99"], 0.001)
    print(f"p99 filled / empty: {ratio:.2f} (target <= 1.3)")
    write_json(
        args.out,
        {
            "contacts": args.contacts,
            "messages": args.messages,
            "events": events,
            "outbox": not args.no_outbox,
            "empty": empty,
            "filled": full,
            "p99_ratio": round(ratio, 2),
            **found,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

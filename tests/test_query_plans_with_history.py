"""The lookups made for every handoff routed and every outbox claim stay on their partial
indexes in a database full of history (closed handoffs, done jobs) with planner statistics,
on both backends.

Found under load on a database with 100,000 closed handoffs after ANALYZE: SQLite then
estimated that `status = 'accepted'` matched every row (one status in the statistics) and
scanned the table at every route, and counted open handoffs per responder through the whole
history of each responder's handoffs. The outbox's claim did the same over its done jobs,
and read every timer still to come (one per person enrolled in follow-ups, weeks ahead) when
fewer jobs were due than a round takes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import psycopg.sql
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from bot.compliance import opt_out
from bot.console import work
from bot.handoff import coach
from bot.handoff.booking import BOOKED_TIMES
from bot.handoff.offers import TOLD_UNANSWERED
from bot.handoff.roster import OPEN_COUNTS
from bot.models import ChannelIdentity, Contact, Event, Handoff, OutboxJob, Responder
from bot.outbox.claim import abandoned_jobs, waiting_jobs
from bot.outbox.delivery import mark_unreachable
from bot.outbox.prune import finished_jobs
from bot.outbox.rows import _job_statement
from bot.services import Services

CLOSED_HANDOFFS = 3_000
DONE_JOBS = 3_000
TIMERS_AHEAD = 3_000
HISTORY_EVENTS = 9_000
AT = dt.datetime(2026, 1, 5, 12, 0, tzinfo=dt.UTC)


def _fill_history(services: Services) -> None:
    """Closed handoffs only, each with a responder and every fifth booked; done outbox jobs,
    a third of them timers; timers due in the weeks ahead, as a follow-up campaign leaves
    them; then ANALYZE."""
    with services.engine.begin() as connection:
        connection.execute(
            sa.insert(Responder),
            [
                {"name": f"coach{i}", "display_name": f"Coach {i}", "role": "peer"}
                for i in range(1, 11)
            ],
        )
        connection.execute(
            sa.insert(Contact), [{"id": i, "created_at": AT} for i in range(1, CLOSED_HANDOFFS + 1)]
        )
        connection.execute(
            sa.insert(Handoff),
            [
                {
                    "code": f"H{i:07d}",
                    "contact_id": i,
                    "status": "completed",
                    "kind": "coach",
                    "urgency": "today",
                    "pathway": "self_referral",
                    "language": "en",
                    "channel": "sms",
                    "responder_id": 1 + i % 10,
                    "scheduled_for": AT if i % 5 == 0 else None,
                    "created_at": AT,
                }
                for i in range(1, CLOSED_HANDOFFS + 1)
            ],
        )
        connection.execute(
            sa.insert(OutboxJob),
            [
                {
                    "kind": "timer" if i % 3 == 0 else "send",
                    "status": "done",
                    "idempotency_key": f"history:{i}",
                    "due_at": AT,
                    "created_at": AT,
                    "updated_at": AT,
                }
                for i in range(DONE_JOBS)
            ],
        )
        connection.execute(
            sa.insert(OutboxJob),
            [
                {
                    "kind": "timer",
                    "status": "pending",
                    "idempotency_key": f"ahead:{i}",
                    "due_at": AT + dt.timedelta(days=1 + i % 56),
                    "created_at": AT,
                }
                for i in range(TIMERS_AHEAD)
            ],
        )
        # Events about no handoff (as steps and messages are), a third of them of the kind
        # a re-route looks for: ANALYZE then counts their NULLs as one key of every row.
        connection.execute(
            sa.insert(Event),
            [
                {"kind": ("step", "contact_created", "handoff_unanswered")[i % 3], "created_at": AT}
                for i in range(HISTORY_EVENTS)
            ],
        )
        connection.exec_driver_sql("ANALYZE")


#: The claim's statements may seek either index: each is bounded by the status (and for
#: pending jobs by the due time), and the statistics pick.
OUTBOX = {"ix_outbox_live_kind_status_due", "ix_outbox_status_due"}


@pytest.mark.parametrize(
    ("lookup", "statement", "indexes", "bound"),
    [
        ("open handoffs per responder", OPEN_COUNTS, {"ix_handoffs_open_by_responder"}, None),
        ("times already booked", BOOKED_TIMES, {"ix_handoffs_booked"}, None),
        # At each re-route of an unanswered handoff, not every event of the kind.
        ("told nobody answered (re-route)", TOLD_UNANSWERED, {"ix_events_handoff_kind"}, None),
        # Pending jobs: the seek stops at the present, so the timers ahead are never read.
        ("due timers (outbox claim)", waiting_jobs(timers=True).limit(10), OUTBOX, "due_at"),
        ("due sends (outbox claim)", waiting_jobs(timers=False).limit(10), OUTBOX, "due_at"),
        # Running jobs whose lease ran out, of both kinds in one statement.
        ("abandoned jobs (outbox claim)", abandoned_jobs().limit(10), OUTBOX, None),
        # The hourly prune: finished jobs bounded by their due time, never the live ones.
        (
            "finished jobs (prune)",
            finished_jobs(AT, "done").limit(500),
            {"ix_outbox_status_due"},
            "due_at",
        ),
    ],
)
def test_lookup_uses_its_partial_index(
    services: Services,
    lookup: str,
    statement: Select[tuple[object, ...]],
    indexes: set[str],
    bound: str | None,
) -> None:
    _fill_history(services)
    plan = _plan(services.engine, statement)
    text = " | ".join(plan)
    if services.engine.dialect.name == "sqlite":
        seeks = [step for step in plan if any(f"INDEX {index} (" in step for index in indexes)]
        bounded = [step for step in seeks if bound is None or f"{bound}<" in step]
        table_scans = [step for step in plan if step.startswith("SCAN") and "USING" not in step]
    else:
        seeks = [step for step in plan if any(f" {index} " in step for index in indexes)]
        conditions = [step for step in plan if "Index Cond" in step]
        bounded = [step for step in conditions if bound is None or f"({bound} <" in step]
        table_scans = [step for step in plan if "Seq Scan" in step]
    assert seeks and bounded and not table_scans, f"{lookup}: {text}"


def _plan(engine: sa.Engine, statement: Select[tuple[object, ...]]) -> list[str]:
    """The planner's steps for the statement as the application runs it. The statuses that
    select a partial index are in the SQL itself, so no bound value changes the choice."""
    compiled = statement.compile(engine)
    known = {"now": AT, "job_id": DONE_JOBS, "handoff_id": 1}
    values = compiled.construct_params({k: v for k, v in known.items() if k in compiled.binds})
    if engine.dialect.name == "sqlite":
        return _explain(engine, str(compiled), [values[n] for n in compiled.positiontup or ()])
    return _explain(engine, str(compiled), values)


def _explain(engine: sa.Engine, sql: str, params: Sequence[Any] | Mapping[str, Any]) -> list[str]:
    """The steps of SQL in the driver's own form, with its parameters: SQLite's query plan;
    on PostgreSQL, the one plan of the statement prepared (see _generic_plan)."""
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, tuple(params))
            return [str(row[-1]) for row in rows]
        assert isinstance(params, Mapping)
        return _generic_plan(connection, sql, params)


@contextlib.contextmanager
def _captured(engine: sa.Engine) -> Iterator[list[tuple[str, Sequence[Any] | Mapping[str, Any]]]]:
    """Every statement the engine sends meanwhile, as the driver gets it."""
    captured: list[tuple[str, Sequence[Any] | Mapping[str, Any]]] = []

    def capture(
        _conn: object,
        _cursor: object,
        sql: str,
        params: Sequence[Any] | Mapping[str, Any],
        *_: object,
    ) -> None:
        captured.append((sql, params))

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        yield captured
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)


def _generic_plan(connection: sa.Connection, sql: str, values: Mapping[str, Any]) -> list[str]:
    """PostgreSQL's plan for the statement prepared, as psycopg runs it from its fifth
    execution: one plan for any values, so a partial index is used only when the SQL text
    itself proves its condition (a bound `attempts > %s` cannot)."""
    names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", sql)))
    numbered = re.sub(r"%\((\w+)\)s", lambda match: f"${names.index(match[1]) + 1}", sql)
    connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
    connection.exec_driver_sql(f"PREPARE planned AS {numbered}")
    try:
        driver = connection.connection.driver_connection
        literals = [psycopg.sql.Literal(values[name]).as_string(driver) for name in names]
        call = (
            f"EXPLAIN EXECUTE planned({', '.join(literals)})"
            if names
            else "EXPLAIN EXECUTE planned"
        )
        return [str(row[0]) for row in connection.exec_driver_sql(call)]
    finally:
        connection.exec_driver_sql("DEALLOCATE planned")
        connection.exec_driver_sql("RESET plan_cache_mode")


def test_a_responders_active_handoffs_skip_their_history(services: Services) -> None:
    """Read at every message from a responder and on their console page: only the handoffs
    they hold now, not the thousands they closed."""
    _fill_history(services)
    with services.sessions() as session, _captured(services.engine) as captured:
        responder = session.get(Responder, 1)
        assert responder is not None
        assert coach.active_handoffs(session, responder) == []
        assert work.open_handoffs(session, responder.id) == []
    lookups = [(sql, params) for sql, params in captured if "FROM handoffs" in sql]
    assert len(lookups) == 2
    for sql, params in lookups:
        plan = " | ".join(_explain(services.engine, sql, params))
        assert "ix_handoffs_open_by_responder" in plan, plan


@pytest.mark.parametrize(
    "statement",
    [waiting_jobs(timers=True), waiting_jobs(timers=False), abandoned_jobs()],
    ids=["due timers", "due sends", "abandoned jobs"],
)
def test_the_claim_reads_no_job_still_to_come(
    sqlite_services: Services, statement: Select[tuple[object, ...]]
) -> None:
    """The claim runs every round. Beside 3,000 timers weeks ahead (and 3,000 done jobs) each
    of its statements does the work it does beside none, counted in SQLite's own steps, not
    timed. A plan can look right and still read them all: sought by both live statuses, the
    search for abandoned jobs read every pending one."""
    engine = sqlite_services.engine
    alone = _sqlite_steps(engine, statement)
    _fill_history(sqlite_services)
    assert _sqlite_steps(engine, statement) < alone + 1_000


def _sqlite_steps(engine: sa.Engine, statement: Select[tuple[object, ...]]) -> int:
    """Virtual-machine steps SQLite takes to run the statement (its progress handler)."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0  # go on

    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        raw.set_progress_handler(count, 1)
        try:
            connection.execute(statement.limit(10), {"now": AT}).all()
        finally:
            raw.set_progress_handler(None, 1)
    return steps


def test_the_check_before_a_send_seeks_only_pending_jobs_of_the_address(services: Services) -> None:
    """Asked before every send: is an earlier text to this address waiting for its retry?
    Beside a history of addressless jobs with statistics, SQLite judged the identity index
    useless and walked every earlier job by rowid (1.9 million steps a message on a million
    contacts); PostgreSQL filtered all of the address's jobs. Either partial index bounds
    the search to the address's pending jobs: the sends awaiting a retry, or all of them
    (a handful, never its history)."""
    _fill_history(services)
    plan = _plan(services.engine, _job_statement(ask_held=True))
    text = " | ".join(plan)
    subquery = text.split("SCALAR SUBQUERY" if "SCALAR SUBQUERY" in text else "SubPlan")[-1]
    seeks = (
        "ix_outbox_sends_awaiting_retry",
        "ix_outbox_addressed_status (identity_id=? AND status=?",
    )
    assert any(seek in subquery for seek in seeks), text


def _address_with_a_queued_text(services: Services) -> int:
    """A person with one address and one text queued for it, beside the history."""
    with services.sessions() as session:
        contact = Contact(id=CLOSED_HANDOFFS + 1, created_at=AT)
        identity = ChannelIdentity(
            contact=contact, channel="sms", address_index="plan-test", address="+15550100"
        )
        session.add(identity)
        session.flush()
        session.add(
            OutboxJob(
                kind="send",
                status="pending",
                idempotency_key="queued:plan-test",
                due_at=AT,
                identity_id=identity.id,
            )
        )
        session.commit()
        return identity.id


@pytest.mark.parametrize(
    "cancel",
    [
        lambda session, identity: opt_out(session, identity, AT, via="sms", conversation=None),
        lambda session, identity: mark_unreachable(session, identity, "invalid number", AT),
    ],
    ids=["STOP", "unreachable"],
)
def test_cancelling_the_jobs_of_an_address_seeks_only_its_pending_ones(
    services: Services, cancel: Callable[[Session, ChannelIdentity], object]
) -> None:
    """At STOP, and when a number turns out not to exist: the jobs still pending for that
    address. Beside addressless timers with statistics (ANALYZE counts their NULLs as one
    key of every row) the identity index looks useless, and SQLite cancelled by the status
    index, reading every pending timer of every person."""
    _fill_history(services)
    identity_id = _address_with_a_queued_text(services)
    with services.sessions() as session, _captured(services.engine) as captured:
        identity = session.get(ChannelIdentity, identity_id)
        assert identity is not None
        cancel(session, identity)
    lookups = [(sql, params) for sql, params in captured if "outbox_jobs.identity_id" in sql]
    assert lookups
    for sql, params in lookups:
        plan = " | ".join(_explain(services.engine, sql, params))
        assert "ix_outbox_addressed_status" in plan, plan

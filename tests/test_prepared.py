"""`bot.prepared`: a row written on the driver's cursor reads back as Core would have written
it, and a row fetched on it reads as Core reads it, on both backends, inside the caller's
transaction; a driver's error is SQLAlchemy's."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Table, bindparam, insert, select, text
from sqlalchemy.exc import IntegrityError

from bot.db import transaction
from bot.models import Base, ChannelIdentity, Contact, Event, Message
from bot.prepared import fetch_one, insert_row, update_by_id
from bot.services import Services
from bot.sql_words import inline_words

AT = dt.datetime(2026, 12, 7, 6, 30, 15, 123456, tzinfo=dt.UTC)


def an_identity(services: Services) -> int:
    with transaction(services.sessions) as session:
        identity = ChannelIdentity(
            contact=Contact(created_at=AT),
            channel="sms",
            address_index="index",
            address="+15555550147",
            created_at=AT,
        )
        session.add(identity)
        session.flush()
        return identity.id


ROWS: list[tuple[str, type[Base], dict[str, Any]]] = [
    (
        "inbound message",
        Message,
        {
            "conversation_id": None,
            "direction": "in",
            "channel": "sms",
            "provider_id": "SM1",
            "body": "I need help tonight ünïcode ✓",
            "status": "received",
            "created_at": AT,
            "meta": None,
        },
    ),
    (
        "reply with choices",
        Message,
        {
            "conversation_id": None,
            "direction": "out",
            "channel": "sms",
            "reply_to_id": None,
            "body": "Reply 1 or 2",
            "meta": {"choices": [[1, "yes", "Yes"]], "hint": None, "rtl": False},
            "status": "sent",
            "segments": 2,
            "created_at": AT.astimezone(dt.timezone(dt.timedelta(hours=-5))),
        },
    ),
    (
        "empty body",
        Message,
        {
            "conversation_id": None,
            "direction": "in",
            "channel": "sms",
            "provider_id": None,
            "body": None,
            "status": "received",
            "created_at": AT,
            "meta": {"media": 1},
        },
    ),
    (
        "event",
        Event,
        {
            "kind": "intake_step",
            "created_at": AT,
            "contact_id": None,
            "conversation_id": None,
            "handoff_id": None,
            "data": {"step": "safe_now", "n": 3},
        },
    ),
]


def read_back(services: Services, model: type[Base], row_id: int) -> dict[str, Any]:
    """The row as the application reads it (decrypted, JSON, aware datetimes)."""
    table = model.__table__
    with services.sessions() as session:
        row = session.execute(select(table).where(table.c.id == row_id)).one()
    return {key: value for key, value in row._mapping.items() if key != "id"}


@pytest.mark.parametrize(("model", "row"), [(m, r) for _, m, r in ROWS], ids=[n for n, *_ in ROWS])
def test_a_row_reads_back_as_core_would_have_written_it(
    services: Services, model: type[Base], row: dict[str, Any]
) -> None:
    identity_id = an_identity(services)
    if model is Message:
        row = {**row, "identity_id": identity_id}
    with transaction(services.sessions) as session:
        prepared_id = insert_row(session, model, row)
        core_row = {**row, "provider_id": "SM2"} if row.get("provider_id") else row
        result = session.connection().execute(insert(model).values(core_row))
        assert result.inserted_primary_key is not None
        core_id = int(result.inserted_primary_key[0])
    assert prepared_id == core_id - 1
    prepared, core = read_back(services, model, prepared_id), read_back(services, model, core_id)
    if row.get("provider_id"):
        assert (prepared.pop("provider_id"), core.pop("provider_id")) == ("SM1", "SM2")
    assert prepared == core
    assert prepared["created_at"] == AT  # stored as the same instant, read back in UTC


def test_an_update_changes_only_its_row_and_columns(services: Services) -> None:
    identity_id = an_identity(services)
    base = {**ROWS[0][2], "identity_id": identity_id, "provider_id": None}
    with transaction(services.sessions) as session:
        first, second = insert_row(session, Message, base), insert_row(session, Message, base)
        update_by_id(session, Message, second, {"body": "changed", "status": "sent"})
    untouched = read_back(services, Message, first)
    assert (untouched["body"], untouched["status"]) == (base["body"], "received")
    changed = read_back(services, Message, second)
    assert (changed["body"], changed["status"], changed["direction"]) == ("changed", "sent", "in")


def test_writes_belong_to_the_callers_transaction(services: Services) -> None:
    """Rolled back with it: nothing half-written when the rest of a message fails."""
    identity_id = an_identity(services)
    with pytest.raises(RuntimeError), transaction(services.sessions) as session:
        insert_row(session, Event, ROWS[3][2])
        insert_row(session, Message, {**ROWS[0][2], "identity_id": identity_id})
        raise RuntimeError("the dialogue step failed")
    with services.engine.connect() as connection:
        counts = [
            connection.execute(text(f"SELECT count(*) FROM {t}")).scalar()
            for t in ("events", "messages")
        ]
    assert counts == [0, 0]


_BY_PROVIDER_ID = select(Message.id).where(Message.provider_id == bindparam("sid"))


def test_a_duplicate_is_sqlalchemys_integrity_error(services: Services) -> None:
    """`receive()` recognises a provider's retry by this error."""
    row = {**ROWS[0][2], "identity_id": an_identity(services)}
    with transaction(services.sessions) as session:
        insert_row(session, Message, row)
    with pytest.raises(IntegrityError), transaction(services.sessions) as session:
        insert_row(session, Message, row)
    # The connection it failed on (and its kept cursor, on psycopg) serves what comes next.
    for n in range(3):
        with transaction(services.sessions) as session:
            insert_row(session, Message, {**row, "provider_id": f"SM-after-{n}"})
            found = fetch_one(session, _BY_PROVIDER_ID, {"sid": f"SM-after-{n}"})
        assert found is not None


def test_a_column_with_a_python_default_must_be_given(services: Services) -> None:
    """Core would fill it in; the driver would store NULL, so the row is refused instead."""
    row = {k: v for k, v in ROWS[3][2].items() if k != "created_at"}
    with pytest.raises(ValueError, match="created_at"), transaction(services.sessions) as session:
        insert_row(session, Event, row)


@pytest.mark.parametrize(("model", "row"), [(m, r) for _, m, r in ROWS], ids=[n for n, *_ in ROWS])
def test_a_row_fetched_reads_as_core_reads_it(
    services: Services, model: type[Base], row: dict[str, Any]
) -> None:
    """Decrypted, JSON decoded, datetimes aware: the values Core's result would hold."""
    if model is Message:
        row = {**row, "identity_id": an_identity(services)}
    table = model.__table__
    assert isinstance(table, Table)
    statement = select(table).where(table.c.id == bindparam("row_id"))
    with transaction(services.sessions) as session:
        row_id = insert_row(session, model, row)
        fetched = fetch_one(session, statement, {"row_id": row_id})
        read = session.connection().execute(statement, {"row_id": row_id}).one()
    assert fetched == tuple(read)


def test_a_fetched_statement_keeps_its_own_values(services: Services) -> None:
    """Values built into the statement (a channel, a LIMIT) go with the caller's; a missing
    value of the caller's is named; no row is None."""
    identity_id = an_identity(services)
    statement = (
        select(Message.id)
        .where(
            Message.channel == "sms",
            Message.identity_id == bindparam("identity"),
            Message.status.in_(inline_words(["received", "sent"])),
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
    with transaction(services.sessions) as session:
        for provider_id in ("SM1", "SM2"):
            base = {**ROWS[0][2], "identity_id": identity_id, "provider_id": provider_id}
            newest = insert_row(session, Message, base)
        insert_row(session, Message, {**base, "channel": "telegram", "provider_id": "TG1"})
        assert fetch_one(session, statement, {"identity": identity_id}) == (newest,)
        assert fetch_one(session, statement, {"identity": identity_id + 1}) is None
        with pytest.raises(KeyError, match="identity"):
            fetch_one(session, statement, {})
        expanding = select(Message.id).where(Message.status.in_(["received", "sent"]))
        with pytest.raises(ValueError, match="IN lists"):
            fetch_one(session, expanding, {})

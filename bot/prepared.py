"""The statements on the path of every message, compiled once and run on the driver's cursor.

Every inbound message writes about five rows (the message, its reply, an event, the
conversation's step). SQLAlchemy Core spends about 25 us around each of those statements
(execution context, result set-up, events) where SQLite takes about 8 us to run one. Here
each statement is compiled by SQLAlchemy once per dialect and set of columns, its values pass
through the columns' own bind processors (encryption, JSON, datetimes: the same code Core
runs), and it runs on the DBAPI cursor of the session's connection, inside the session's
transaction: a message took about 6 % less CPU (in-process A/B, bench/README.md). A driver's
error is raised as SQLAlchemy's (an `IntegrityError` stays one, so a provider's retry is
still recognised).

Only plain INSERTs and UPDATEs by key go here, with every column that has a Python-side
default given, and SELECTs built once by their caller (`fetch_one`: the sender's lookup,
which through the ORM cost about ten times the statement itself).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, Table, bindparam, exc, insert, update
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.types import TypeEngine

from bot.models import Base

BindProcessor = Callable[[Any], Any] | None
ResultProcessor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    #: (bind name, its column's processor) in the order a positional driver takes them.
    binds: tuple[tuple[str, BindProcessor], ...]
    positional: bool
    returns_key: bool

    def parameters(self, values: Mapping[str, Any]) -> Any:
        if self.positional:
            return [values[name] if p is None else p(values[name]) for name, p in self.binds]
        return {name: (values[name] if p is None else p(values[name])) for name, p in self.binds}


@dataclass(frozen=True)
class _CompiledSelect:
    query: _Compiled
    #: The values the statement holds itself (a channel it compares with, a LIMIT).
    fixed: Mapping[str, Any]
    #: The bind names the caller must give.
    required: frozenset[str]
    #: Per selected column, what Core does to the driver's value (decryption, datetimes).
    results: tuple[ResultProcessor, ...]

    def row(self, raw: Any) -> tuple[Any, ...]:
        return tuple(
            value if p is None else p(value) for value, p in zip(raw, self.results, strict=True)
        )


#: By the driver's dialect (its class, paramstyle and RETURNING support: PostgreSQL's drivers
#: differ in both), the statement's kind, table and columns.
_compiled: dict[tuple[object, ...], _Compiled] = {}


def insert_row(session: Session, model: type[Base], row: Mapping[str, Any]) -> int:
    """INSERT one row of a model's table (with an integer `id`); returns the id."""
    compiled = _compile(session, "insert", _table(model), tuple(row), _insert_statement)
    return int(_run(session, compiled, row))


def update_by_id(
    session: Session, model: type[Base], row_id: int, values: Mapping[str, Any]
) -> None:
    """UPDATE the given columns of the model's row with this `id`."""
    compiled = _compile(session, "update", _table(model), tuple(values), _update_statement)
    _run(session, compiled, {**values, "id_": row_id})


def fetch_one(
    session: Session, statement: Select[Any], values: Mapping[str, Any]
) -> tuple[Any, ...] | None:
    """The first row of a SELECT the caller builds once (it is compiled once per statement
    object and dialect), each column's value as Core would give it; None for no row.

    Like an ORM query it first flushes the session's pending changes (unless autoflush is
    off), so it reads what the transaction has changed so far."""
    if session.autoflush:
        session.flush()
    compiled = _compile_select(session.get_bind().dialect, statement)
    missing = compiled.required - values.keys()
    if missing:
        raise KeyError(f"give {', '.join(sorted(missing))}")
    query = compiled.query
    parameters = query.parameters({**compiled.fixed, **values})
    raw = _execute(session, query.sql, parameters, lambda cursor, _dialect: cursor.fetchone())
    return None if raw is None else compiled.row(raw)


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _insert_statement(table: Table, columns: tuple[str, ...], dialect: Dialect) -> UpdateBase:
    # Core fills in a column's Python-side default; the driver's cursor would store NULL.
    missing = sorted(
        c.name for c in table.columns if c.default is not None and c.name not in columns
    )
    if missing:
        raise ValueError(f"{table.name}: give {', '.join(missing)} (they have defaults in Python)")
    statement = insert(table).values({c: bindparam(c, type_=table.c[c].type) for c in columns})
    return statement.returning(table.c.id) if dialect.insert_returning else statement


def _update_statement(table: Table, columns: tuple[str, ...], _dialect: Dialect) -> UpdateBase:
    return (
        update(table)
        .where(table.c.id == bindparam("id_", type_=table.c.id.type))
        .values({c: bindparam(c, type_=table.c[c].type) for c in columns})
    )


def _compile(
    session: Session,
    kind: str,
    table: Table,
    columns: tuple[str, ...],
    build: Callable[[Table, tuple[str, ...], Dialect], UpdateBase],
) -> _Compiled:
    dialect = session.get_bind().dialect
    key = (type(dialect), dialect.paramstyle, dialect.insert_returning, kind, table.name, columns)
    found = _compiled.get(key)
    if found is None:
        compiled = build(table, columns, dialect).compile(dialect=dialect)
        found = _query(compiled, dialect, returns_key=kind == "insert")
        _compiled[key] = found
    return found


def _query(compiled: SQLCompiler, dialect: Dialect, *, returns_key: bool) -> _Compiled:
    names = compiled.positiontup if compiled.positional else list(compiled.binds)
    assert names is not None
    return _Compiled(
        sql=str(compiled),
        binds=tuple((n, _processor(compiled.binds[n].type, dialect)) for n in names),
        positional=compiled.positional,
        returns_key=returns_key,
    )


#: By statement (held weakly: one built per call would only cost its compilation, not
#: memory for ever), then by the driver's dialect.
_selects: weakref.WeakKeyDictionary[Select[Any], dict[tuple[object, ...], _CompiledSelect]] = (
    weakref.WeakKeyDictionary()
)


def _compile_select(dialect: Dialect, statement: Select[Any]) -> _CompiledSelect:
    by_dialect = _selects.get(statement)
    if by_dialect is None:
        by_dialect = _selects[statement] = {}
    key = (type(dialect), dialect.paramstyle)
    found = by_dialect.get(key)
    if found is None:
        compiled = statement.compile(dialect=dialect)
        if compiled.post_compile_params:
            # Core renders these (an IN list of values) anew at each execution.
            raise ValueError("write IN lists as literal words (bot.sql_words.inline_words)")
        binds = compiled.binds
        found = _CompiledSelect(
            query=_query(compiled, dialect, returns_key=False),
            fixed={n: b.value for n, b in binds.items() if not b.required},
            required=frozenset(n for n, b in binds.items() if b.required),
            results=tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in statement.selected_columns
            ),
        )
        by_dialect[key] = found
    return found


def _processor(type_: TypeEngine[Any], dialect: Dialect) -> BindProcessor:
    """What Core does to a value of this type for this driver (the dialect's own JSON and
    datetime handling included, not only the generic type's)."""
    return type_.dialect_impl(dialect).bind_processor(dialect)


def _run(session: Session, compiled: _Compiled, values: Mapping[str, Any]) -> Any:
    """Execute in the session's transaction; the new row's id for an INSERT."""

    def key(cursor: Any, dialect: Dialect) -> Any:
        if not compiled.returns_key:
            return None
        if dialect.insert_returning:
            row = cursor.fetchone()
            assert row is not None
            return row[0]
        return cursor.lastrowid

    return _execute(session, compiled.sql, compiled.parameters(values), key)


#: Where a psycopg connection's cursor is kept between statements (the pool's per-connection
#: `info`, which is cleared when the connection is closed or discarded).
_CURSOR = "doorway_cursor"


def _execute(
    session: Session, sql: str, parameters: Any, result: Callable[[Any, Dialect], Any]
) -> Any:
    """Run one statement on a cursor of the session's connection, in its transaction, and
    read what `result` takes from the cursor; a driver's error is raised as SQLAlchemy's.

    A lost connection (the database restarted, a failover) is discarded as Core discards
    it, and the error says so (`connection_invalidated`), so the caller may try again.

    On psycopg one cursor per connection serves every statement: making one costs its
    Python layer about 20 us, and a message runs about seven of these (callgrind, receive()
    on PostgreSQL: 4.57 -> 4.35 M instructions). A pooled connection is used by one thread at
    a time, and psycopg resets a cursor at each execute. SQLite's cursors are closed after
    each statement, as before: an open one can keep its statement, and a read, going."""
    connection = session.connection()
    dialect = connection.dialect
    reuse = dialect.driver == "psycopg"
    pooled = connection.connection
    cursor = pooled.info.get(_CURSOR) if reuse else None
    if cursor is None:
        cursor = pooled.cursor()
        if reuse:
            pooled.info[_CURSOR] = cursor
    try:
        cursor.execute(sql, parameters)
        return result(cursor, dialect)
    except dialect.loaded_dbapi.Error as error:
        lost = dialect.is_disconnect(error, pooled.dbapi_connection, cursor)
        if lost:
            connection.invalidate(error)
        raise exc.DBAPIError.instance(
            sql,
            parameters,
            error,
            dialect.loaded_dbapi.Error,
            connection_invalidated=lost,
            dialect=dialect,
        ) from error
    finally:
        if not reuse:
            cursor.close()

"""ORM objects for rows read on the driver's cursor, as if the session had loaded them.

The sender's lookup runs on every inbound message and hands the turn three ORM objects (the
identity, the contact, the conversation) that later steps read and change. Loaded through
the ORM they cost about ten times the statement: the ORM sets up its loaders and result for
every execution. Here the row is read by `bot.prepared.fetch_one` and each object is made the
way the ORM's loader makes one (a new instance, its attributes filled, its identity key set)
with `make_transient_to_detached`, then added to the session: it is persistent and clean,
its changes flush as usual, and a relationship to an object in the session (`identity.contact`)
is found in the identity map without a query.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import inspect
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict, set_committed_value
from sqlalchemy.sql.elements import ColumnElement

from bot.models import Base
from bot.prepared import insert_row

Model = TypeVar("Model", bound=Base)


def mapped_columns(model: type[Base]) -> tuple[tuple[str, ColumnElement[Any]], ...]:
    """(attribute, column) of every column the model maps, in the mapper's order: what a
    statement must select for `attach` to make a whole object."""
    return tuple((attr.key, attr.columns[0]) for attr in inspect(model).column_attrs)


def columns_of(*models: type[Base]) -> list[ColumnElement[Any]]:
    """What a statement selects for `attach_row`: every mapped column of each model in turn."""
    return [column for model in models for _, column in mapped_columns(model)]


def attach_row(
    session: Session, models: Sequence[type[Base]], row: Sequence[Any], *, refresh: bool
) -> tuple[list[Base | None], tuple[Any, ...]]:
    """The session's objects for a row that starts with `columns_of(*models)`, one per model
    (None where its id is NULL: an outer join found nothing), and the rest of the row."""
    objects: list[Base | None] = []
    start = 0
    for model in models:
        names = _names(model)
        values = dict(zip(names, row[start : start + len(names)], strict=True))
        start += len(names)
        absent = values["id"] is None
        objects.append(None if absent else attach(session, model, values, refresh=refresh))
    return objects, tuple(row[start:])


def inserted(session: Session, model: type[Model], row_id: int, values: Mapping[str, Any]) -> Model:
    """The session's object for the row this transaction has just inserted with `values` on
    the driver's cursor (`bot.prepared.insert_row`, which gave `row_id`): a new row made
    through the ORM's unit of work cost several times its INSERT. Columns not in `values`
    were stored as NULL (no column has a database-side default)."""
    full = dict.fromkeys(_names(model))
    full.update(values)
    full["id"] = row_id
    return attach(session, model, full, refresh=False)


def insert_object(session: Session, model: type[Model], values: Mapping[str, Any]) -> Model:
    """INSERT a new row (`bot.prepared.insert_row`) and return the session's object for it."""
    return inserted(session, model, insert_row(session, model, values), values)


@functools.cache
def _names(model: type[Base]) -> tuple[str, ...]:
    return tuple(name for name, _ in mapped_columns(model))


def attach(
    session: Session, model: type[Model], values: Mapping[str, Any], *, refresh: bool
) -> Model:
    """The session's object for this row. `values` holds every mapped column (see
    `mapped_columns`). If the session holds the row's object already, that object is kept,
    as an ORM query would keep it; with `refresh` its attributes are overwritten with
    `values` first, as a query with `populate_existing` would."""
    mapper = inspect(model)
    key = mapper.identity_key_from_primary_key((values["id"],))
    present = session.identity_map.get(key)
    if present is not None:
        if refresh:
            for name, value in values.items():
                set_committed_value(present, name, value)
        return cast(Model, present)
    instance = cast(Model, mapper.class_manager.new_instance())
    instance_dict(instance).update(values)
    make_transient_to_detached(instance)
    session.add(instance)
    return instance


__all__ = ["attach", "attach_row", "columns_of", "insert_object", "inserted", "mapped_columns"]

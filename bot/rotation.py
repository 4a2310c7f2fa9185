"""`doorway keys rotate`: re-encrypt every `Encrypted` column under the first key, resumably."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from bot.crypto import KeysError, Vault
from bot.models import Base, Encrypted

DEFAULT_BATCH = 500


@dataclass(frozen=True)
class EncryptedTable:
    """A table's name, its integer primary key and the columns holding encrypted tokens."""

    name: str
    key: str
    columns: tuple[str, ...]

    def raw(self) -> sa.TableClause:
        """The table seen as plain text, so reads return tokens and writes are not re-encrypted."""
        return sa.table(
            self.name,
            sa.column(self.key, sa.Integer),
            *(sa.column(name, sa.Text) for name in self.columns),
        )


def encrypted_tables(metadata: sa.MetaData = Base.metadata) -> list[EncryptedTable]:
    """Every table with an `Encrypted` column, found from the models so new ones are covered."""
    found = []
    for table in metadata.sorted_tables:
        columns = tuple(c.name for c in table.columns if isinstance(c.type, Encrypted))
        if not columns:
            continue
        keys = list(table.primary_key.columns)
        if len(keys) != 1:
            raise RuntimeError(f"{table.name}: key rotation needs a single-column primary key")
        found.append(EncryptedTable(table.name, keys[0].name, columns))
    return found


@dataclass
class RotationReport:
    """Counts per `table.column`; nothing else (never a value)."""

    rotated: dict[str, int] = field(default_factory=dict)
    current: dict[str, int] = field(default_factory=dict)
    #: Changed by the running app between our read and write; left as the app wrote it.
    raced: dict[str, int] = field(default_factory=dict)
    batches: int = 0
    complete: bool = True

    def add(self, counts: dict[str, int], where: str, amount: int = 1) -> None:
        counts[where] = counts.get(where, 0) + amount

    @property
    def total_rotated(self) -> int:
        return sum(self.rotated.values())

    def lines(self) -> Iterator[str]:
        names = sorted(set(self.rotated) | set(self.current) | set(self.raced))
        for name in names:
            line = (
                f"{name}: {self.rotated.get(name, 0)} re-encrypted, "
                f"{self.current.get(name, 0)} already under the first key"
            )
            if self.raced.get(name):
                line += f", {self.raced[name]} changed while rotating (run again)"
            yield line
        state = "complete" if self.complete else "stopped early; run again to finish"
        yield (
            f"Rotation {state}: {self.total_rotated} values re-encrypted in {self.batches} batches"
        )


def rotate(
    engine: Engine,
    vault: Vault,
    *,
    batch_size: int = DEFAULT_BATCH,
    max_batches: int | None = None,
) -> RotationReport:
    """Re-encrypt every value not yet under the first key, one committed batch at a time.

    Safe to interrupt and run again: values already under the first key are skipped. Each
    write only lands if the value is still the one read, so the running app may keep writing.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    report = RotationReport()
    for table in encrypted_tables():
        last_key: int | None = None
        while True:
            if max_batches is not None and report.batches >= max_batches:
                report.complete = False
                return report
            with engine.begin() as connection:
                rows = _next_batch(connection, table, last_key, batch_size)
                if not rows:
                    break
                report.batches += 1
                for row in rows:
                    _rotate_row(connection, vault, table, row, report)
                last_key = int(rows[-1][0])
            if len(rows) < batch_size:
                break
    return report


def _next_batch(
    connection: sa.Connection, table: EncryptedTable, after: int | None, size: int
) -> list[tuple[Any, ...]]:
    raw = table.raw()
    key = raw.c[table.key]
    query = sa.select(key, *(raw.c[name] for name in table.columns)).order_by(key).limit(size)
    if after is not None:
        query = query.where(key > after)
    return [tuple(row) for row in connection.execute(query).all()]


def _rotate_row(
    connection: sa.Connection,
    vault: Vault,
    table: EncryptedTable,
    row: tuple[Any, ...],
    report: RotationReport,
) -> None:
    raw = table.raw()
    row_key = row[0]
    for name, value in zip(table.columns, row[1:], strict=True):
        token = None if value is None else str(value)
        where = f"{table.name}.{name}"
        if token is None:
            continue
        if vault.is_current(token):
            report.add(report.current, where)
            continue
        try:
            rotated = vault.rotate(token)
        except KeysError:
            raise KeysError(
                f"{where} (row {row_key}): no configured key decrypts it; list the new key "
                "first and keep every old key after it until rotation completes"
            ) from None
        result = connection.execute(
            sa.update(raw)
            .where(raw.c[table.key] == row_key, raw.c[name] == token)
            .values({name: rotated})
        )
        report.add(report.rotated if result.rowcount == 1 else report.raced, where)

"""The program's own status and kind names, written into SQL text instead of bound.

Two reasons: a list of plain values becomes an expanding parameter that SQLAlchemy re-renders
into the statement at every execution; and a planner can only use a partial index
(`... WHERE status = 'accepted'`) when the query names the same constant. These are fixed
identifiers of this program, never input.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, literal_column


def inline_word(word: str) -> ColumnElement[str]:
    assert word.isidentifier(), word
    return literal_column(f"'{word}'")


def inline_words(words: Iterable[str]) -> list[ColumnElement[str]]:
    return [inline_word(word) for word in words]


def sql_in(column: str, words: Iterable[str]) -> str:
    """`column IN ('a', 'b')`, for a partial index's WHERE (the query must say the same)."""
    words = list(words)
    assert all(word.isidentifier() for word in words), words
    quoted = ", ".join(f"'{word}'" for word in words)
    return f"{column} IN ({quoted})"


__all__ = ["inline_word", "inline_words", "sql_in"]

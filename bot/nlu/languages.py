"""Matching a requested language code ("es-MX", "zh-Hans") to the languages we have models for."""

from __future__ import annotations

from collections.abc import Iterable

from bot.nlu.normalize import base_language


def _key(code: str) -> str:
    return code.strip().lower().replace("-", "_")


def resolve_language(requested: str, available: Iterable[str], default: str) -> str:
    """The available code that best serves `requested`: exact, then same base, else default."""
    codes = list(available)
    wanted = _key(requested) if isinstance(requested, str) else ""
    for code in codes:
        if _key(code) == wanted:
            return code
    base = base_language(wanted) if wanted else ""
    for code in codes:
        if base and base_language(code) == base:
            return code
    return default

"""How typed answers are compared: case-, accent-, space- and punctuation-insensitive."""

from __future__ import annotations

import re
import unicodedata

_NOT_WORD = re.compile(r"[^\w]+", re.UNICODE)


def fold(text: str) -> str:
    """Lower-case, drop accents and punctuation, squeeze spaces: 'Sí, ¡Mañana!' -> 'si manana'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NOT_WORD.sub(" ", stripped).strip()


_NUMBER = re.compile(r"^\s*(?:#|no\.?|n[°º])?\s*(\d{1,2})\s*[.)]?\s*$", re.IGNORECASE)


def choice_number(text: str) -> int | None:
    """The number a person typed to pick an option: '2', '2.', '#2', ' 2) '."""
    match = _NUMBER.match(text)
    return int(match.group(1)) if match else None

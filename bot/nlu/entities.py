"""Finding language names in a message (from the data's lookup and synonym tables)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence

from bot.nlu.base import Entity
from bot.nlu.normalize import fold, normalize, tokens

LANGUAGE = "language"

# Words that may surround a language name when the whole message means "switch to it":
# "spanish please", "en español por favor", "do you speak english?".
_FILLER = frozenset(
    {
        *("please", "in", "speak", "talk", "text", "write", "use", "can", "could", "we"),
        *("you", "me", "i", "do", "to", "the", "language", "lang", "switch", "change"),
        *("prefer", "want", "would", "like", "ok", "yes", "si", "en", "por", "favor"),
        *("idioma", "hablar", "habla", "hablas", "hablame", "escribe", "escribeme"),
        *("escribir", "puedes", "podemos", "prefiero", "quiero", "cambiar", "a", "al"),
        *("el", "la", "lenguaje", "?", "🙏"),
    }
)


def _is_unspaced_script(value: str) -> bool:
    """Chinese and Japanese are written without spaces, so no word boundary is needed."""
    return any(unicodedata.name(ch, "").startswith(("CJK", "HIRAGANA", "KATAKANA")) for ch in value)


class LanguageEntities:
    """Finds language names ("español", "中文", "tieng viet") and returns their codes."""

    def __init__(self, names: Sequence[str], synonyms: Mapping[str, str]) -> None:
        folded_synonyms = {fold(name): code for name, code in synonyms.items()}
        self._codes: dict[str, str] = {}
        for name in names:
            key = fold(name).strip()
            if key:
                self._codes[key] = folded_synonyms.get(key, name.strip())
        ordered = sorted(self._codes, key=len, reverse=True)
        bounded = [re.escape(n) for n in ordered if not _is_unspaced_script(n)]
        unbounded = [re.escape(n) for n in ordered if _is_unspaced_script(n)]
        parts = []
        if bounded:
            parts.append(rf"(?<!\w)(?:{'|'.join(bounded)})(?!\w)")
        if unbounded:
            parts.append(rf"(?:{'|'.join(unbounded)})")
        self._pattern = re.compile("|".join(parts)) if parts else None

    def extract(self, text: str) -> tuple[Entity, ...]:
        """Language entities with offsets into the original `text`."""
        if self._pattern is None or not text:
            return ()
        folded_chars: list[str] = []
        origin: list[int] = []
        for index, char in enumerate(text):
            for piece in fold(char):
                folded_chars.append(piece)
                origin.append(index)
        folded = "".join(folded_chars)
        found = []
        for match in self._pattern.finditer(folded):
            start, end = origin[match.start()], origin[match.end() - 1] + 1
            code = self._codes.get(match.group(0), match.group(0))
            found.append(Entity(entity=LANGUAGE, value=code, start=start, end=end))
        return tuple(found)

    @staticmethod
    def is_only_language_request(text: str, entities: Sequence[Entity], language: str) -> bool:
        """True for messages like "español" or "english please": nothing but a language choice."""
        if not entities:
            return False
        rest = list(text)
        for entity in entities:
            rest[entity.start : entity.end] = [" "] * (entity.end - entity.start)
        leftover = tokens(normalize("".join(rest), language))
        return all(word in _FILLER for word in leftover)

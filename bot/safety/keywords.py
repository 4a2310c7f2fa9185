"""Compliance keywords: STOP / START / HELP in every enabled language, and natural opt-outs."""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from bot.paths import dialogues_dir
from bot.safety.textnorm import Boundary, alternation, clean, fold, fold_pattern, normalize

Keyword = Literal["stop", "start", "help"]
_CATEGORIES: tuple[Keyword, ...] = ("stop", "start", "help")
# The longest keyword is well under this; longer messages are never keywords, and
# checking the length first keeps a 10,000-character message cheap.
_MAX_KEY_CHARS = 40
# Languages written without spaces: a negation is a character just before the match.
_UNSPACED = frozenset({"zh_Hans"})
_CLAUSE_END = re.compile(r"[.,!?;]")


def keywords_path() -> Path:
    """Where the shipped keyword lists live."""
    return dialogues_dir() / "safety" / "keywords.yaml"


class KeywordDataError(ValueError):
    """The keyword data file is malformed; raised at load so a bad file never ships quietly."""


def _key(text: str) -> str:
    """A message reduced to its letters and digits: case, accents, punctuation, emoji,
    spaces and hyphens all dropped, so " Opt-Out!! " and "OPTOUT" are the same key."""
    return "".join(ch for ch in fold(clean(text)) if ch.isalnum())


def _strict_key(text: str) -> str:
    """Like `_key` but keeping accents, for words that accents tell apart (vi "hủy")."""
    folded = unicodedata.normalize("NFC", unicodedata.normalize("NFKC", clean(text)).casefold())
    return "".join(ch for ch in folded if ch.isalnum())


def _words(value: object, where: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, Mapping):
        raise KeywordDataError(f"{where} must map languages to word lists")
    words: list[str] = []
    for language, entries in value.items():
        # YAML 1.1 reads bare YES/NO/ON as booleans: insist on strings so that never slips by.
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise KeywordDataError(f"{where}.{language} must be a list of quoted strings")
        words.extend(entries)
    return words


@dataclass(frozen=True)
class KeywordRules:
    """The keyword data file, compiled once."""

    by_key: Mapping[str, Keyword]
    by_strict_key: Mapping[str, Keyword]
    yes_keys: frozenset[str]
    natural: Mapping[str, re.Pattern[str]]
    negations: Mapping[str, re.Pattern[str]]

    def classify(self, text: str) -> Keyword | None:
        """ "stop", "start" or "help" when the whole message is that keyword."""
        if not isinstance(text, str):
            return None
        key = _key(text)
        if not key or len(key) > _MAX_KEY_CHARS:
            return None
        found = self.by_key.get(key)
        if found is not None:
            return found
        return self.by_strict_key.get(_strict_key(text))

    def is_opt_in(self, text: str, *, opted_out: bool) -> bool:
        """START/UNSTOP always; YES and its translations only from someone opted out,
        because to anyone else "yes" is an answer to the question just asked."""
        if self.classify(text) == "start":
            return True
        return opted_out and isinstance(text, str) and _key(text) in self.yes_keys

    def is_natural_opt_out(self, text: str, language: str) -> bool:
        """A clear natural-language "stop texting me" in any enabled language.

        `language` is not used to narrow the search: a revocation is honoured in whatever
        language it comes.
        """
        if not isinstance(text, str):
            return False
        norm = normalize(text)
        if not norm:
            return False
        for lang, pattern in self.natural.items():
            for m in pattern.finditer(norm):
                if not self._negated(lang, norm, m.start()):
                    return True
        return False

    def _negated(self, language: str, norm: str, start: int) -> bool:
        before = norm[:start]
        clause_start = 0
        for m in _CLAUSE_END.finditer(before):
            clause_start = m.end()
        guard = self.negations.get(language)
        return guard is not None and guard.search(before[clause_start:]) is not None


def parse_rules(data: object) -> KeywordRules:
    """Compile keyword data (as loaded from YAML) into `KeywordRules`."""
    if not isinstance(data, Mapping):
        raise KeywordDataError("keyword data must be a mapping")
    table: Mapping[str, Any] = data
    by_key: dict[str, Keyword] = {}
    by_strict: dict[str, Keyword] = {}
    for category in _CATEGORIES:
        for word in _words(table.get(category), category):
            _claim(by_key, _key(word), category, word)
    accent = table.get("accent_sensitive") or {}
    if not isinstance(accent, Mapping):
        raise KeywordDataError("accent_sensitive must be a mapping")
    for category, value in accent.items():
        if category not in _CATEGORIES:
            raise KeywordDataError(f"accent_sensitive.{category} is not a keyword category")
        for word in _words(value, f"accent_sensitive.{category}"):
            _claim(by_strict, _strict_key(word), category, word)
    yes_keys = frozenset(
        _key(w) for w in _words(table.get("yes_after_opt_out"), "yes_after_opt_out")
    )
    clash = yes_keys & by_key.keys()
    if clash:
        raise KeywordDataError(f"yes_after_opt_out words are also keywords: {sorted(clash)}")

    natural: dict[str, re.Pattern[str]] = {}
    for language, entries in (table.get("natural_opt_out") or {}).items():
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise KeywordDataError(f"natural_opt_out.{language} must be a list of strings")
        boundary: Boundary = "none" if language in _UNSPACED or language == "ko" else "word"
        natural[language] = _compile(alternation([fold_pattern(e) for e in entries], boundary))
    negations: dict[str, re.Pattern[str]] = {}
    for language, words in (table.get("negations") or {}).items():
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise KeywordDataError(f"negations.{language} must be a list of strings")
        if not words:
            continue
        body = "|".join(fold_pattern(w) for w in words)
        # A negation counts when it sits at most three words before the match.
        if language in _UNSPACED:
            negations[language] = _compile(rf"(?:{body})\S{{0,4}}$")
        else:
            negations[language] = _compile(rf"(?:^|\s)(?:{body})(?:\s+\S+){{0,3}}\s*$")
    return KeywordRules(by_key, by_strict, yes_keys, natural, negations)


def _claim(table: dict[str, Keyword], key: str, category: Keyword, word: str) -> None:
    if not key:
        raise KeywordDataError(f"{category}: {word!r} has no letters")
    if table.get(key, category) != category:
        raise KeywordDataError(f"{word!r} is both {table[key]} and {category}")
    table[key] = category


def _compile(source: str) -> re.Pattern[str]:
    try:
        return re.compile(source)
    except re.error as exc:
        raise KeywordDataError(f"bad pattern {source!r}: {exc}") from exc


def load_rules(path: Path | None = None) -> KeywordRules:
    """Read and compile a keyword data file (the shipped one by default)."""
    if path is None:
        return default_rules()
    with path.open(encoding="utf-8") as fh:
        return parse_rules(yaml.safe_load(fh))


@functools.lru_cache(maxsize=1)
def default_rules() -> KeywordRules:
    """The shipped keyword rules, loaded once per process."""
    with keywords_path().open(encoding="utf-8") as fh:
        return parse_rules(yaml.safe_load(fh))


def classify_keyword(text: str) -> Keyword | None:
    """ "stop", "start" or "help" when the WHOLE message is a compliance keyword, else None."""
    return default_rules().classify(text)


def is_opt_in(text: str, *, opted_out: bool) -> bool:
    """Whether the message re-subscribes: START/UNSTOP always, YES only when opted out."""
    return default_rules().is_opt_in(text, opted_out=opted_out)


def is_natural_opt_out(text: str, language: str) -> bool:
    """Whether the message clearly asks, in words, to stop being texted."""
    return default_rules().is_natural_opt_out(text, language)

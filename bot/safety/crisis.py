"""Crisis detection: is this message an overdose/medical emergency or suicide risk, right now?"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from bot.nlu.base import Parse
from bot.paths import dialogues_dir
from bot.safety.textnorm import (
    CLAUSE_BREAK,
    Boundary,
    alternation,
    combine,
    fold_pattern,
    normalize,
)

CrisisKind = Literal["overdose", "suicide"]

_INTENT_KIND: dict[str, CrisisKind] = {
    "crisis_overdose": "overdose",
    "crisis_suicide": "suicide",
}
_MACRO = re.compile(r"\{([A-Z_]+)\}")
#: Used when the data file does not say; the NLU is only trusted when fairly sure.
DEFAULT_NLU_THRESHOLD = 0.6


def crisis_lexicon_path() -> Path:
    """Where the shipped crisis lexicon lives."""
    return dialogues_dir() / "safety" / "crisis.yaml"


@dataclass(frozen=True)
class CrisisHit:
    """Why a message was judged a crisis: for logs and for tests that print misses."""

    kind: CrisisKind
    source: Literal["lexicon", "nlu"]
    evidence: str


@dataclass(frozen=True)
class CrisisLexicon:
    """The crisis data file, compiled once: one regex per role over every language."""

    overdose: re.Pattern[str] | None
    overdose_events: re.Pattern[str] | None
    past_markers: re.Pattern[str] | None
    suicide: re.Pattern[str] | None
    not_overdose: re.Pattern[str] | None
    not_suicide: re.Pattern[str] | None
    jokes: re.Pattern[str] | None
    nlu_threshold: float


class CrisisDataError(ValueError):
    """The crisis data file is malformed; raised at load so a bad file never ships quietly."""


def _as_mapping(value: object, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise CrisisDataError(f"{where} must be a mapping")
    return value


def _compile_role(
    table: Mapping[str, Any],
    role: str,
    macros: Mapping[str, str],
    boundaries: Mapping[str, Boundary],
) -> re.Pattern[str] | None:
    sources: list[str] = []
    for language, entries in _as_mapping(table.get(role), role).items():
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise CrisisDataError(f"{role}.{language} must be a list of strings")
        folded: list[str] = []
        for entry in entries:
            expanded = _MACRO.sub(lambda m: _macro(macros, m.group(1), role), entry)
            pattern = fold_pattern(expanded)
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise CrisisDataError(f"{role}.{language}: bad pattern {entry!r}: {exc}") from exc
            # Squeezing letters can turn "xx*" into "x*"; a pattern matching nothing at all
            # would match every message.
            if compiled.fullmatch(""):
                raise CrisisDataError(f"{role}.{language}: {entry!r} matches the empty string")
            folded.append(pattern)
        sources.append(alternation(folded, boundaries.get(language, "word")))
    return combine(sources)


def _macro(macros: Mapping[str, str], name: str, role: str) -> str:
    if name not in macros:
        raise CrisisDataError(f"{role}: unknown macro {{{name}}}")
    return macros[name]


def parse_lexicon(data: object) -> CrisisLexicon:
    """Compile the crisis data (as loaded from YAML) into a `CrisisLexicon`."""
    table = _as_mapping(data, "crisis data")
    macros = {str(k): str(v) for k, v in _as_mapping(table.get("macros"), "macros").items()}
    boundaries: dict[str, Boundary] = {}
    for language, mode in _as_mapping(table.get("boundaries"), "boundaries").items():
        if mode not in ("word", "none"):
            raise CrisisDataError(f"boundaries.{language} must be 'word' or 'none'")
        boundaries[str(language)] = mode
    threshold = table.get("nlu_threshold", DEFAULT_NLU_THRESHOLD)
    if not isinstance(threshold, int | float) or not 0.0 <= threshold <= 1.0:
        raise CrisisDataError("nlu_threshold must be a number from 0 to 1")

    def role(name: str) -> re.Pattern[str] | None:
        return _compile_role(table, name, macros, boundaries)

    return CrisisLexicon(
        overdose=role("overdose"),
        overdose_events=role("overdose_events"),
        past_markers=role("past_markers"),
        suicide=role("suicide"),
        not_overdose=role("not_overdose"),
        not_suicide=role("not_suicide"),
        jokes=role("jokes"),
        nlu_threshold=float(threshold),
    )


def load_lexicon(path: Path | None = None) -> CrisisLexicon:
    """Read and compile a crisis data file (the shipped one by default)."""
    if path is None:
        return _shipped_lexicon()
    with path.open(encoding="utf-8") as fh:
        return parse_lexicon(yaml.safe_load(fh))


@functools.lru_cache(maxsize=1)
def _shipped_lexicon() -> CrisisLexicon:
    with crisis_lexicon_path().open(encoding="utf-8") as fh:
        return parse_lexicon(yaml.safe_load(fh))


def _spans(pattern: re.Pattern[str] | None, text: str) -> list[tuple[int, int]]:
    if pattern is None:
        return []
    return [m.span() for m in pattern.finditer(text)]


def _overlaps(span: tuple[int, int], others: Iterable[tuple[int, int]]) -> bool:
    start, end = span
    return any(s < end and start < e for s, e in others)


def _clause(text: str, start: int, end: int) -> tuple[int, int]:
    """The bounds of the clause holding text[start:end]."""
    left = 0
    for m in CLAUSE_BREAK.finditer(text, 0, start):
        left = m.end()
    right_match = CLAUSE_BREAK.search(text, end)
    return left, right_match.start() if right_match else len(text)


class CrisisDetector:
    """Layered crisis detection: the multilingual lexicon first, then the NLU's guess.

    Inject one (e.g. built from a test lexicon) where the default is not wanted.
    """

    def __init__(self, lexicon: CrisisLexicon | None = None, *, nlu_threshold: float | None = None):
        self._lexicon = lexicon if lexicon is not None else load_lexicon()
        self._threshold = (
            nlu_threshold if nlu_threshold is not None else self._lexicon.nlu_threshold
        )

    def detect(self, text: str, language: str, parse: Parse | None = None) -> CrisisKind | None:
        """The crisis in `text`, if any. Never raises on any text."""
        hit = self.explain(text, language, parse)
        return hit.kind if hit else None

    def explain(self, text: str, language: str, parse: Parse | None = None) -> CrisisHit | None:
        """Like `detect`, with the evidence. `language` is deliberately not used to narrow
        the search: every language's lexicon is checked on every message."""
        norm = normalize(text) if isinstance(text, str) else ""
        lex = self._lexicon
        past_cancelled = False

        # Overdose first: it needs 911 now, so it wins when both match.
        overdose_hit = self._first_unsuppressed(lex.overdose, lex.not_overdose, norm)
        if overdose_hit:
            return CrisisHit("overdose", "lexicon", overdose_hit)
        event_hit, past_cancelled = self._first_current_event(norm)
        if event_hit:
            return CrisisHit("overdose", "lexicon", event_hit)
        suicide_hit = self._first_unsuppressed(lex.suicide, lex.not_suicide, norm)
        if suicide_hit:
            return CrisisHit("suicide", "lexicon", suicide_hit)
        return self._from_parse(norm, parse, past_cancelled=past_cancelled)

    def _first_unsuppressed(
        self, pattern: re.Pattern[str] | None, veto: re.Pattern[str] | None, norm: str
    ) -> str | None:
        if pattern is None:
            return None
        vetoes: list[tuple[int, int]] | None = None
        for m in pattern.finditer(norm):
            if vetoes is None:
                vetoes = _spans(veto, norm)  # only paid for when something matched
            if not _overlaps(m.span(), vetoes):
                return m.group(0)
        return None

    def _first_current_event(self, norm: str) -> tuple[str | None, bool]:
        """The first overdose event not cancelled as past, and whether one was cancelled."""
        lex = self._lexicon
        if lex.overdose_events is None:
            return None, False
        cancelled = False
        vetoes: list[tuple[int, int]] | None = None
        for m in lex.overdose_events.finditer(norm):
            if vetoes is None:
                vetoes = _spans(lex.not_overdose, norm)
            if _overlaps(m.span(), vetoes):
                continue
            left, right = _clause(norm, *m.span())
            if lex.past_markers is not None and lex.past_markers.search(norm[left:right]):
                cancelled = True
                continue
            return m.group(0), cancelled
        return None, cancelled

    def _from_parse(
        self, norm: str, parse: Parse | None, *, past_cancelled: bool
    ) -> CrisisHit | None:
        if parse is None:
            return None
        lex = self._lexicon
        candidates = [(parse.intent, parse.confidence), *parse.ranking]
        best: tuple[CrisisKind, float] | None = None
        for intent, confidence in candidates:
            kind = _INTENT_KIND.get(intent)
            if kind is None or not confidence >= self._threshold:  # `not >=` also rejects NaN
                continue
            if best is None or confidence > best[1]:
                best = (kind, confidence)
        if best is None:
            return None
        kind = best[0]
        # The NLU cannot tell a joke or an idiom from a crisis; the lexicon's vetoes can.
        if lex.jokes is not None and lex.jokes.search(norm):
            return None
        veto = lex.not_overdose if kind == "overdose" else lex.not_suicide
        if veto is not None and veto.search(norm):
            return None
        if kind == "overdose" and past_cancelled:
            return None
        return CrisisHit(kind, "nlu", f"{_intent_for(kind)}@{best[1]:.2f}")


def _intent_for(kind: CrisisKind) -> str:
    return "crisis_overdose" if kind == "overdose" else "crisis_suicide"


@functools.lru_cache(maxsize=1)
def default_detector() -> CrisisDetector:
    """The detector built from the shipped lexicon, loaded once per process."""
    return CrisisDetector()


def detect_crisis(text: str, language: str, parse: Parse | None = None) -> CrisisKind | None:
    """ "overdose", "suicide" or None for one inbound message (see `CrisisDetector`)."""
    return default_detector().detect(text, language, parse)

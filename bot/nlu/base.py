"""The interpreter protocol and the shared intent vocabulary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

#: The intents every language's training data covers (DESIGN.md, "Intents").
INTENTS: tuple[str, ...] = (
    "affirm",
    "deny",
    "greet",
    "thanks",
    "request_help",
    "talk_to_person",
    "not_now",
    "skip",
    "ask_confidentiality",
    "ask_cost",
    "ask_services",
    "change_language",
    "restart",
    "opt_out",
    "withdraw_consent",
    "crisis_suicide",
    "crisis_overdose",
    "out_of_scope",
)

CRISIS_INTENTS: frozenset[str] = frozenset({"crisis_suicide", "crisis_overdose"})
OUT_OF_SCOPE = "out_of_scope"


@dataclass(frozen=True)
class Entity:
    """A value found in the text, e.g. a language name for `change_language`."""

    entity: str
    value: str
    start: int
    end: int
    confidence: float = 1.0


@dataclass(frozen=True)
class Parse:
    """What an interpreter understood from one message."""

    intent: str
    confidence: float
    ranking: tuple[tuple[str, float], ...] = ()
    entities: tuple[Entity, ...] = field(default_factory=tuple)

    @classmethod
    def unknown(cls) -> Parse:
        """The parse of text nothing could be made of: the dialogue re-asks."""
        return cls(intent=OUT_OF_SCOPE, confidence=0.0, ranking=((OUT_OF_SCOPE, 0.0),))


class Interpreter(Protocol):
    """Anything that turns a message into a `Parse`; never raises on any text.

    One whose parse waits on more than the CPU (a server) says so with `may_block = True`.
    """

    def parse(self, text: str, language: str) -> Parse: ...

"""The pydantic models a dialogue YAML file must satisfy."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Global exits every step accepts; the spec names the step each one jumps to.
GLOBAL_JUMPS = ("talk_to_person", "crisis_overdose", "crisis_suicide", "restart")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Line(_Strict):
    """One message the bot says; `when`/`unless` name slots that must be set or unset."""

    text: str
    when: str | None = None
    unless: str | None = None


class Choice(_Strict):
    """One answer to a question: typed as its number, its label, a synonym or an intent."""

    value: str
    label: str
    synonyms: tuple[str, ...] = ()
    intents: tuple[str, ...] = ()
    next: str | None = None
    set: dict[str, str] = Field(default_factory=dict)


class HandoffRequest(_Strict):
    """Ask for a warm handoff; urgency and preferences come from the slots."""

    kind: Literal["intake", "talk_to_person", "crisis"] = "intake"


class ConsentRecord(_Strict):
    granted: bool


class Effect(_Strict):
    """A side effect a step asks the service to carry out when the step is entered."""

    request_handoff: HandoffRequest | None = None
    record_consent: ConsentRecord | None = None
    alert: Literal["crisis_overdose", "crisis_suicide"] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Effect:
        named = [v for v in (self.request_handoff, self.record_consent, self.alert) if v]
        if len(named) != 1:
            raise ValueError(
                "an effect names exactly one of request_handoff, record_consent, alert"
            )
        return self


class Step(_Strict):
    """A step says lines, then either asks a question (and waits) or moves on/ends."""

    say: tuple[Line, ...] = ()
    ask: str | None = None
    slot: str | None = None
    input: Literal["choice", "text"] = "choice"
    choices: tuple[Choice, ...] = ()
    skippable: bool = False
    max_length: int = Field(default=80, ge=1, le=500)
    next: str | None = None
    effects: tuple[Effect, ...] = ()
    end: bool = False

    @field_validator("say", mode="before")
    @classmethod
    def _lines_from_strings(cls, value: object) -> object:
        if isinstance(value, str):
            return [{"text": value}]
        if isinstance(value, list):
            return [{"text": item} if isinstance(item, str) else item for item in value]
        return value

    @model_validator(mode="after")
    def _shape(self) -> Step:
        if self.ask is None:
            if self.choices or self.skippable or self.slot:
                raise ValueError("choices, slot and skippable need an `ask`")
            if not self.end and not self.next:
                raise ValueError("a step without a question needs `next` or `end: true`")
        else:
            if self.end:
                raise ValueError("a question cannot end the dialogue; add a final step")
            if self.input == "choice" and not self.choices:
                raise ValueError("a choice question needs choices")
            if self.input == "text" and self.choices:
                raise ValueError("a free-text question has no choices")
            if self.input == "text" and not self.slot:
                raise ValueError("a free-text question needs a slot to store the answer")
            if not self.next and any(c.next is None for c in self.choices):
                raise ValueError("every choice needs a `next`, or the step a default `next`")
            if self.input == "text" and not self.next:
                raise ValueError("a free-text question needs `next`")
        return self

    @property
    def is_question(self) -> bool:
        return self.ask is not None


class DialogueSpec(_Strict):
    """A whole flow: its steps, the step each global exit jumps to, and ready answers."""

    id: str
    start: str
    globals: dict[str, str] = Field(default_factory=dict)
    answers: dict[str, str] = Field(default_factory=dict)
    steps: dict[str, Step]

    @field_validator("globals")
    @classmethod
    def _known_globals(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(GLOBAL_JUMPS))
        if unknown:
            raise ValueError(f"unknown global exit(s): {', '.join(unknown)}")
        return value

    def step(self, name: str) -> Step:
        return self.steps[name]

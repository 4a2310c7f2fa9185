"""The pure dialogue runtime: `step(spec, state, event, now) -> (state, effects)`.

No I/O, no clock, no randomness: everything it needs comes in as arguments, so every rule is
a table-driven test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from bot.dialogue.effects import (
    Alert,
    ChoiceView,
    CrisisKind,
    Effect,
    End,
    OptOut,
    RecordConsent,
    RequestHandoff,
    Say,
    SetLanguage,
    SetSlot,
    Urgency,
)
from bot.dialogue.matching import choice_number, fold
from bot.dialogue.spec import Choice, DialogueSpec, Line, Step
from bot.i18n import N_

Translate = Callable[[str], str]

#: Below this an intent does not override what the person is answering.
GLOBAL_INTENT_MIN_CONFIDENCE = 0.6
#: Free-text answers (a name) are taken as written unless an intent is this sure.
TEXT_STEP_INTENT_MIN_CONFIDENCE = 0.85
#: After this many misses in a row the re-ask offers a person.
MISSES_BEFORE_PERSON = 2

# Keywords shown to people in texts ("reply SKIP"); the translated word works too.
SKIP_WORD = N_("SKIP")
PERSON_WORD = N_("PERSON")
RESTART_WORD = N_("RESTART")
WITHDRAW_WORD = N_("WITHDRAW")

MSG_REASK = N_("Sorry, I didn't catch that. Please reply with a number:")
MSG_REASK_TEXT = N_("Sorry, I didn't catch that.")
MSG_OFFER_PERSON = N_(
    "I may not be understanding you well. Reply PERSON and we will connect you with a "
    "person, or reply with a number:"
)
MSG_NOT_SKIPPABLE = N_("This one needs an answer before we go on.")
MSG_RESTARTED = N_("Okay, let's start over.")
MSG_CONSENT_WITHDRAWN = N_(
    "Okay. We will not share your details with anyone from now on. A coach can still talk "
    "with you without knowing who you are."
)
MSG_AFTER_END = N_(
    "Thank you for your message. Our team has your request and someone will reach out. "
    "Reply RESTART to start over, or PERSON to ask for a person again."
)


@dataclass(frozen=True)
class DialogueState:
    """Where a conversation is: the step, the answers so far and how many misses in a row."""

    dialogue_id: str
    step: str
    slots: Mapping[str, str] = field(default_factory=dict)
    misses: int = 0
    status: Literal["new", "active", "ended"] = "active"


@dataclass(frozen=True)
class Begin:
    """A conversation starts (first contact, a deep link, a follow-up reply)."""


@dataclass(frozen=True)
class UserMessage:
    """What the person sent, with what the safety layer and the NLU made of it."""

    text: str
    intent: str = "out_of_scope"
    confidence: float = 0.0
    crisis: CrisisKind | None = None
    language: str | None = None


Event = Begin | UserMessage


#: Intents that act on a first message instead of waiting for the welcome.
FIRST_MESSAGE_ACTIONS = frozenset({"talk_to_person", "change_language", "opt_out"})


def initial_state(spec: DialogueSpec) -> DialogueState:
    """A conversation that has not started: its first message decides how it opens."""
    return DialogueState(dialogue_id=spec.id, step=spec.start, status="new")


def step(
    spec: DialogueSpec,
    state: DialogueState,
    event: Event,
    now: dt.datetime,
    translate: Translate = str,
) -> tuple[DialogueState, list[Effect]]:
    """Advance one conversation by one event. `now` is accepted so rules may depend on time."""
    del now  # no rule depends on the time of day yet; kept so callers never need to change
    if isinstance(event, Begin):
        return _enter(spec, replace(state, slots={}, misses=0, status="active"), spec.start)
    if state.status == "new":
        acts_at_once = event.crisis is not None or (
            event.intent in FIRST_MESSAGE_ACTIONS
            and event.confidence >= GLOBAL_INTENT_MIN_CONFIDENCE
        )
        if not acts_at_once:
            # A greeting or anything else: the welcome and the first question.
            return _enter(spec, replace(state, status="active"), spec.start)
        if event.intent == "change_language" and event.crisis is None:
            # "español" as a first message: the welcome, in that language.
            prefix: list[Effect] = [SetLanguage(event.language)] if event.language else []
            return _enter(spec, replace(state, status="active"), spec.start, prefix)
        state = replace(state, status="active")
    return _on_message(spec, state, event, translate)


# --- entering steps --------------------------------------------------------------------------


def _enter(
    spec: DialogueSpec, state: DialogueState, name: str, prefix: list[Effect] | None = None
) -> tuple[DialogueState, list[Effect]]:
    """Say what each step says and carry out its effects until a question or the end."""
    effects: list[Effect] = list(prefix or [])
    slots = dict(state.slots)
    for _ in range(len(spec.steps) + 1):
        current = spec.step(name)
        effects.extend(_lines(current.say, slots))
        effects.extend(_step_effects(current, slots))
        if current.is_question:
            effects.append(_question(name, current, slots))
            return replace(state, step=name, slots=slots, misses=0, status="active"), effects
        if current.end or current.next is None:
            effects.append(End())
            return replace(state, step=name, slots=slots, misses=0, status="ended"), effects
        name = current.next
    raise RuntimeError(f"dialogue {spec.id!r} loops without a question from {name!r}")


def _lines(lines: tuple[Line, ...], slots: Mapping[str, str]) -> list[Effect]:
    said: list[Effect] = []
    for line in lines:
        if line.when and not slots.get(line.when):
            continue
        if line.unless and slots.get(line.unless):
            continue
        said.append(Say(line.text, params=_visible_slots(slots)))
    return said


def _visible_slots(slots: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in slots.items() if v}


def _question(name: str, current: Step, slots: Mapping[str, str]) -> Say:
    assert current.ask is not None
    return Say(
        current.ask,
        params=_visible_slots(slots),
        choices=tuple(
            ChoiceView(number=i, value=c.value, label=c.label)
            for i, c in enumerate(current.choices, start=1)
        ),
        skippable=current.skippable,
        step=name,
    )


def _step_effects(current: Step, slots: Mapping[str, str]) -> list[Effect]:
    out: list[Effect] = []
    for effect in current.effects:
        if effect.record_consent is not None:
            out.append(RecordConsent(granted=effect.record_consent.granted))
        elif effect.alert is not None:
            out.append(Alert(kind="overdose" if effect.alert == "crisis_overdose" else "suicide"))
        elif effect.request_handoff is not None:
            kind = effect.request_handoff.kind
            out.append(
                RequestHandoff(
                    kind=kind,
                    urgency=urgency_for(slots, kind),
                    help_kind=slots.get("help_kind"),
                    contact_method=slots.get("contact_method"),
                    contact_time=slots.get("contact_time"),
                    display_name=slots.get("name"),
                    info_topic=slots.get("info_topic"),
                )
            )
    return out


def urgency_for(slots: Mapping[str, str], kind: str) -> Urgency:
    """How soon a person should be reached, from what they told us."""
    if kind == "crisis":
        return "crisis"
    if slots.get("safe_now") == "no":
        return "urgent"
    if kind == "talk_to_person" or slots.get("help_kind") == "talk_today":
        return "today"
    if slots.get("help_kind") == "schedule" or slots.get("contact_time") not in (None, "asap"):
        return "scheduled"
    return "routine"


# --- answering -------------------------------------------------------------------------------


def _on_message(
    spec: DialogueSpec, state: DialogueState, event: UserMessage, translate: Translate
) -> tuple[DialogueState, list[Effect]]:
    if event.crisis is not None:
        target = spec.globals.get(f"crisis_{event.crisis}")
        if target is not None:
            return _enter(spec, state, target)
        return state, [Alert(kind=event.crisis)]

    said = fold(event.text)
    sure = event.confidence >= GLOBAL_INTENT_MIN_CONFIDENCE
    if sure and event.intent == "opt_out":
        return replace(state, status="ended"), [OptOut(), End()]
    if _is_word(said, RESTART_WORD, translate) or (sure and event.intent == "restart"):
        fresh = replace(state, slots={}, misses=0)
        return _enter(spec, fresh, spec.start, prefix=[Say(MSG_RESTARTED)])

    if state.status == "ended":
        return _after_end(spec, state, event, said, translate)

    current = spec.step(state.step)
    if current.input == "choice":
        picked = _match_choice(current, event, said, translate, by_intent=False)
        if picked is not None:
            return _answer(spec, state, current, picked)

    text_step = current.input == "text"
    needed = TEXT_STEP_INTENT_MIN_CONFIDENCE if text_step else GLOBAL_INTENT_MIN_CONFIDENCE
    confident = event.confidence >= needed

    if _is_word(said, SKIP_WORD, translate) or (confident and event.intent == "skip"):
        if not current.skippable:
            return _reask(spec, state, current, lead=MSG_NOT_SKIPPABLE, count_miss=False)
        return _skip(spec, state, current)
    if _is_word(said, PERSON_WORD, translate) or (confident and event.intent == "talk_to_person"):
        return _talk_to_person(spec, state)
    if confident and event.intent == "change_language" and event.language:
        again = _reask(spec, state, current, lead=None, count_miss=False)
        return again[0], [SetLanguage(event.language), *again[1]]
    if _is_word(said, WITHDRAW_WORD, translate) or (
        confident and event.intent == "withdraw_consent"
    ):
        again = _reask(spec, state, current, lead=None, count_miss=False)
        withdrawn: list[Effect] = [
            RecordConsent(granted=False, withdrawn=True),
            Say(MSG_CONSENT_WITHDRAWN),
        ]
        return again[0], [*withdrawn, *again[1]]
    if confident and event.intent in spec.answers:
        return _reask(spec, state, current, lead=spec.answers[event.intent], count_miss=False)

    if current.input == "choice":
        picked = _match_choice(current, event, said, translate, by_intent=True)
        if picked is not None:
            return _answer(spec, state, current, picked)
        return _reask(spec, state, current, lead=None, count_miss=True)

    answer = _clean_free_text(event.text, current.max_length)
    if not answer:
        return _reask(spec, state, current, lead=None, count_miss=True)
    assert current.slot is not None and current.next is not None
    slots = {**state.slots, current.slot: answer}
    return _enter(spec, replace(state, slots=slots), current.next, [SetSlot(current.slot, answer)])


def _after_end(
    spec: DialogueSpec, state: DialogueState, event: UserMessage, said: str, translate: Translate
) -> tuple[DialogueState, list[Effect]]:
    """After the end the bot still answers: a person, a language change, or where things are."""
    sure = event.confidence >= GLOBAL_INTENT_MIN_CONFIDENCE
    if _is_word(said, PERSON_WORD, translate) or (sure and event.intent == "talk_to_person"):
        return _talk_to_person(spec, state)
    if sure and event.intent == "change_language" and event.language:
        return state, [SetLanguage(event.language), Say(MSG_AFTER_END)]
    if _is_word(said, WITHDRAW_WORD, translate) or (sure and event.intent == "withdraw_consent"):
        return state, [RecordConsent(granted=False, withdrawn=True), Say(MSG_CONSENT_WITHDRAWN)]
    if sure and event.intent in spec.answers:
        return state, [Say(spec.answers[event.intent]), Say(MSG_AFTER_END)]
    return state, [Say(MSG_AFTER_END)]


def _is_word(said: str, word: str, translate: Translate) -> bool:
    return said in {fold(word), fold(translate(word))}


def _match_choice(
    current: Step, event: UserMessage, said: str, translate: Translate, *, by_intent: bool
) -> Choice | None:
    if by_intent:
        if event.confidence < GLOBAL_INTENT_MIN_CONFIDENCE:
            return None
        hits = [c for c in current.choices if event.intent in c.intents]
        return hits[0] if len(hits) == 1 else None
    number = choice_number(event.text)
    if number is not None:
        return current.choices[number - 1] if 1 <= number <= len(current.choices) else None
    if not said:
        return None
    for choice in current.choices:
        names = {fold(choice.label), fold(translate(choice.label)), fold(choice.value)}
        names.update(fold(s) for s in choice.synonyms)
        names.update(fold(translate(s)) for s in choice.synonyms)
        if said in names:
            return choice
    return None


def _answer(
    spec: DialogueSpec, state: DialogueState, current: Step, picked: Choice
) -> tuple[DialogueState, list[Effect]]:
    slots = dict(state.slots)
    effects: list[Effect] = []
    if current.slot:
        slots[current.slot] = picked.value
        effects.append(SetSlot(current.slot, picked.value))
    for name, value in picked.set.items():
        slots[name] = value
        effects.append(SetSlot(name, value))
    target = picked.next or current.next
    assert target is not None
    return _enter(spec, replace(state, slots=slots), target, effects)


def _skip(
    spec: DialogueSpec, state: DialogueState, current: Step
) -> tuple[DialogueState, list[Effect]]:
    assert current.next is not None or current.choices
    target = current.next or current.choices[0].next
    assert target is not None
    return _enter(spec, state, target)


def _talk_to_person(spec: DialogueSpec, state: DialogueState) -> tuple[DialogueState, list[Effect]]:
    target = spec.globals.get("talk_to_person")
    if target is None:
        return state, [Say(MSG_AFTER_END)]
    slots = dict(state.slots)
    effects: list[Effect] = []
    if not slots.get("help_kind"):
        slots["help_kind"] = "talk_today"
        effects.append(SetSlot("help_kind", "talk_today"))
    return _enter(spec, replace(state, slots=slots, status="active"), target, effects)


def _reask(
    spec: DialogueSpec,
    state: DialogueState,
    current: Step,
    *,
    lead: str | None,
    count_miss: bool,
) -> tuple[DialogueState, list[Effect]]:
    misses = state.misses + 1 if count_miss else state.misses
    effects: list[Effect] = []
    if lead is not None:
        effects.append(Say(lead, params=_visible_slots(state.slots)))
    elif misses >= MISSES_BEFORE_PERSON and spec.globals.get("talk_to_person"):
        effects.append(Say(MSG_OFFER_PERSON))
    else:
        effects.append(Say(MSG_REASK if current.input == "choice" else MSG_REASK_TEXT))
    effects.append(_question(state.step, current, state.slots))
    return replace(state, misses=misses), effects


def _clean_free_text(text: str, limit: int) -> str:
    """A free-text answer without control characters, squeezed, at most `limit` characters."""
    printable = "".join(ch if ch.isprintable() else " " for ch in text)
    return " ".join(printable.split())[:limit]

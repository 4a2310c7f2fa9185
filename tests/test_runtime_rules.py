"""Table-driven rules of the pure runtime, without NLU: typed input and given intents."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.dialogue.effects import RequestHandoff, Say, SetLanguage, SetSlot
from bot.dialogue.loader import load_checked
from bot.dialogue.runtime import DialogueState, UserMessage, step, urgency_for
from bot.paths import dialogues_dir

NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
SPEC = load_checked(dialogues_dir())["intake"]


def at(step_name: str, **slots: str) -> DialogueState:
    return DialogueState(dialogue_id="intake", step=step_name, slots=slots)


MATCHES = [
    # (step, typed, expected slot value) -- numbers, labels, synonyms, case and accents
    ("help_kind", "1", "talk_today"),
    ("help_kind", " 2. ", "schedule"),
    ("help_kind", "#3", "info"),
    ("help_kind", "JUST TALK", "just_talk"),
    ("help_kind", "talk with someone today!", "talk_today"),
    ("safe_now", "Yes", "yes"),
    ("safe_now", "YÉS", "yes"),
    ("safe_now", "nope", "no"),
    ("contact_method", "text me", "message"),
    ("contact_time", "ASAP", "asap"),
    ("contact_time", "Évening", "evening"),
    ("consent", "ok", "granted"),
    ("consent", "anonymous", "declined"),
]


@pytest.mark.parametrize(("step_name", "typed", "value"), MATCHES)
def test_typed_answer_matches_choice(step_name: str, typed: str, value: str) -> None:
    _, effects = step(SPEC, at(step_name), UserMessage(typed), NOW)
    slot = SPEC.step(step_name).slot
    assert SetSlot(slot, value) in effects  # type: ignore[arg-type]


INTENT_ANSWERS = [
    # (step, intent, expected slot value): an intent picks a choice only when unambiguous
    ("safe_now", "affirm", "yes"),
    ("safe_now", "deny", "no"),
    ("consent", "affirm", "granted"),
    ("consent", "deny", "declined"),
    ("help_kind", "request_help", "talk_today"),
    ("help_kind", "not_now", "schedule"),
]


@pytest.mark.parametrize(("step_name", "intent", "value"), INTENT_ANSWERS)
def test_intent_answers_choice(step_name: str, intent: str, value: str) -> None:
    event = UserMessage("whatever they typed", intent=intent, confidence=0.9)
    _, effects = step(SPEC, at(step_name), event, NOW)
    assert SetSlot(SPEC.step(step_name).slot, value) in effects  # type: ignore[arg-type]


def test_low_confidence_intent_is_a_miss() -> None:
    state, effects = step(
        SPEC, at("safe_now"), UserMessage("hmm", intent="affirm", confidence=0.3), NOW
    )
    assert state.step == "safe_now"
    assert state.misses == 1
    assert isinstance(effects[0], Say) and effects[0].text.startswith("Sorry")


def test_second_miss_offers_a_person() -> None:
    state, _ = step(SPEC, at("safe_now"), UserMessage("zzz"), NOW)
    state, effects = step(SPEC, state, UserMessage("zzz"), NOW)
    assert state.misses == 2
    assert isinstance(effects[0], Say) and "PERSON" in effects[0].text


def test_a_name_is_taken_as_written_unless_an_intent_is_very_sure() -> None:
    state, effects = step(
        SPEC, at("name"), UserMessage("Hope", intent="greet", confidence=0.7), NOW
    )
    assert SetSlot("name", "Hope") in effects
    assert state.step == "safe_now"


def test_free_text_is_trimmed_and_cleaned() -> None:
    _, effects = step(SPEC, at("name"), UserMessage("  Ana\x00\x07  Maria " + "x" * 100), NOW)
    slot = next(e for e in effects if isinstance(e, SetSlot))
    assert slot.value is not None
    assert slot.value.startswith("Ana Maria")
    assert len(slot.value) == 40


def test_change_language_sets_it_and_asks_again() -> None:
    event = UserMessage("español", intent="change_language", confidence=0.95, language="es")
    state, effects = step(SPEC, at("safe_now"), event, NOW)
    assert effects[0] == SetLanguage("es")
    assert state.step == "safe_now"
    assert any(isinstance(e, Say) and e.step == "safe_now" for e in effects)


def test_questions_about_privacy_are_answered_then_the_question_repeats() -> None:
    event = UserMessage("will the police know", intent="ask_confidentiality", confidence=0.9)
    state, effects = step(SPEC, at("contact_time"), event, NOW)
    assert state.step == "contact_time" and state.misses == 0
    texts = [e.text for e in effects if isinstance(e, Say)]
    assert "police" in texts[0]
    assert texts[1] == SPEC.step("contact_time").ask


def test_withdraw_consent_word_works_at_any_step() -> None:
    _, effects = step(SPEC, at("contact_time"), UserMessage("withdraw"), NOW)
    assert any(isinstance(e, Say) and "not share your details" in e.text for e in effects)


URGENCY = [
    # (slots, kind, urgency)
    ({}, "crisis", "crisis"),
    ({"safe_now": "no", "help_kind": "talk_today"}, "intake", "urgent"),
    ({"help_kind": "talk_today"}, "intake", "today"),
    ({}, "talk_to_person", "today"),
    ({"help_kind": "schedule"}, "intake", "scheduled"),
    ({"contact_time": "evening"}, "intake", "scheduled"),
    ({"contact_time": "asap"}, "intake", "routine"),
    ({}, "intake", "routine"),
]


@pytest.mark.parametrize(("slots", "kind", "urgency"), URGENCY)
def test_urgency(slots: dict[str, str], kind: str, urgency: str) -> None:
    assert urgency_for(slots, kind) == urgency


def test_handoff_carries_preferences() -> None:
    state = at(
        "consent", help_kind="schedule", name="Sam", contact_method="call", contact_time="morning"
    )
    _, effects = step(SPEC, state, UserMessage("1"), NOW)
    request = next(e for e in effects if isinstance(e, RequestHandoff))
    assert request == RequestHandoff(
        kind="intake",
        urgency="scheduled",
        help_kind="schedule",
        contact_method="call",
        contact_time="morning",
        display_name="Sam",
    )


def test_the_runtime_is_pure() -> None:
    state = at("safe_now")
    first = step(SPEC, state, UserMessage("yes"), NOW)
    second = step(SPEC, state, UserMessage("yes"), NOW)
    assert first == second
    assert state == at("safe_now")


def test_a_language_name_as_first_message_welcomes_in_that_language() -> None:
    from bot.dialogue.runtime import initial_state

    event = UserMessage("español", intent="change_language", confidence=0.95, language="es")
    state, effects = step(SPEC, initial_state(SPEC), event, NOW)
    assert effects[0] == SetLanguage("es")
    assert state.step == "help_kind" and state.status == "active"

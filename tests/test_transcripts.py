"""Transcript tests: each file is played against the pure runtime and end to end."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from bot.conversations import receive
from bot.dialogue.effects import Say
from bot.dialogue.loader import load_checked
from bot.dialogue.runtime import UserMessage, initial_state, step
from bot.models import ChannelIdentity, Consent, Conversation, Event, Handoff
from bot.nlu.base import Interpreter
from bot.paths import dialogues_dir
from bot.render import program_params, render
from bot.safety.crisis import detect_crisis
from bot.services import Services
from connectors.base import InboundMessage, render_text
from tests.conftest import FakeClock
from tests.transcript_runner import Transcript, check_replies, load_transcripts

TRANSCRIPTS = load_transcripts()


def _ids(items: list[Transcript]) -> list[str]:
    return [t.path.stem for t in items]


@pytest.mark.parametrize(
    "transcript", [t for t in TRANSCRIPTS if t.pure], ids=_ids([t for t in TRANSCRIPTS if t.pure])
)
def test_transcript_pure_runtime(
    transcript: Transcript, interpreter: Interpreter, sqlite_services: Services, clock: FakeClock
) -> None:
    spec = load_checked(dialogues_dir())["intake"]
    translator = sqlite_services.catalogs.translator("en")
    params = program_params(sqlite_services.program, translator)
    state = initial_state(spec)
    for number, turn in enumerate(transcript.turns, start=1):
        parse = interpreter.parse(turn.send, "en")
        crisis = detect_crisis(turn.send, "en", parse)
        event = UserMessage(
            text=turn.send,
            intent=parse.intent,
            confidence=parse.confidence,
            crisis="overdose" if crisis == "overdose" else "suicide" if crisis else None,
        )
        state, effects = step(spec, state, event, clock())
        replies = [
            render_text(
                render(e, translator=translator, program_values=params, channel="t", address="t")
            )
            for e in effects
            if isinstance(e, Say)
        ]
        where = f"{transcript.path.name} turn {number}"
        check_replies(turn, replies, where)
        if turn.step is not None:
            assert state.step == turn.step, where
        if turn.status is not None:
            assert state.status == turn.status, where
        if turn.slots is not None:
            assert dict(state.slots) == turn.slots, where


@pytest.mark.parametrize("transcript", TRANSCRIPTS, ids=_ids(TRANSCRIPTS))
def test_transcript_end_to_end(
    transcript: Transcript, services: Services, clock: FakeClock
) -> None:
    address = f"transcript-{transcript.path.stem}"
    for number, turn in enumerate(transcript.turns, start=1):
        clock.advance(seconds=30)
        inbound = InboundMessage(
            channel="web",
            address=address,
            text=turn.send,
            provider_id=f"{transcript.path.stem}-{number}",
            received_at=clock(),
        )
        result = receive(services, inbound, reply_inline=True)
        where = f"{transcript.path.name} turn {number}"
        check_replies(turn, [render_text(r) for r in result.replies], where)
        with services.sessions() as session:
            conversation = session.scalar(
                select(Conversation).order_by(Conversation.id.desc()).limit(1)
            )
            if turn.step is not None:
                assert conversation is not None and conversation.step == turn.step, where
            if turn.status is not None:
                assert conversation is not None and conversation.status == turn.status, where
            if turn.slots is not None:
                assert conversation is not None
                assert json.loads(conversation.slots or "{}") == turn.slots, where

    end = transcript.end
    with services.sessions() as session:
        handoffs = session.scalars(select(Handoff)).all()
        if "handoff" in end:
            if end["handoff"] is None:
                assert handoffs == []
            else:
                assert len(handoffs) == 1, f"expected one handoff, got {len(handoffs)}"
                for key, value in end["handoff"].items():
                    assert getattr(handoffs[0], key) == value, key
        if "consent" in end:
            consents = session.scalars(select(Consent)).all()
            if end["consent"] == "none":
                assert consents == []
            else:
                assert [c.granted for c in consents] == [end["consent"] == "granted"]
                if end["consent"] == "granted":
                    assert handoffs and handoffs[0].consent_id == consents[0].id
        if "opted_out" in end:
            identity = session.scalar(select(ChannelIdentity))
            assert identity is not None and identity.opted_out is end["opted_out"]
        kinds = {e.kind for e in session.scalars(select(Event)).all()}
        for kind in end.get("events", []):
            assert kind in kinds, f"no {kind} event; have {sorted(kinds)}"

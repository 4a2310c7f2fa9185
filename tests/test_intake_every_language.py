"""The whole intake, in every shipped language, through `receive()` with the real catalogs:
each question arrives translated and the request is stored in the person's language."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import load_program
from bot.conversations import receive
from bot.db import upgrade
from bot.i18n import fill
from bot.models import Handoff
from bot.nlu import build_interpreter
from bot.nlu.base import Interpreter
from bot.paths import dialogues_dir, locales_dir
from bot.ratelimit import InboundLimiter
from bot.services import Services, build_services
from connectors.base import InboundMessage, render_text
from tests.conftest import FakeClock, make_settings

LANGUAGES = sorted(p.parent.parent.name for p in locales_dir().glob("*/LC_MESSAGES/messages.po"))
ANSWERS = [
    ("hi", "What kind of help would you like?"),
    ("1", "What would you like us to call you? Any name or nickname is fine."),
    ("Sam", "Are you safe right now?"),
    ("1", "How would you like a coach to reach you?"),
    ("1", "When is a good time?"),
    ("1", None),  # the consent question (long; checked by its first words below)
    ("1", "Thank you, {name}."),
]


@pytest.fixture(scope="module")
def all_languages(tmp_path_factory: pytest.TempPathFactory) -> Interpreter:
    cache = tmp_path_factory.mktemp("nlu-all")
    return build_interpreter(["en", *LANGUAGES], cache_dir=cache)


@pytest.fixture
def multilingual(
    tmp_path: Path, all_languages: Interpreter, clock: FakeClock
) -> Iterator[Services]:
    demo = load_program(dialogues_dir() / "program.demo.yaml")
    program = demo.model_copy(update={"languages": ("en", *LANGUAGES)})
    url = f"sqlite:///{tmp_path / 'doorway.sqlite3'}"
    built = build_services(
        make_settings(url, tmp_path / "data"),
        program=program,
        interpreter=all_languages,
        clock=clock,
    )
    built.inbound_limiter = InboundLimiter(per_minute=10_000)
    upgrade(built.engine)
    yield built
    built.close()


def test_every_language_has_a_complete_catalog() -> None:
    assert len(LANGUAGES) >= 10


@pytest.mark.parametrize("language", LANGUAGES)
def test_full_intake_in(language: str, multilingual: Services, clock: FakeClock) -> None:
    translator = multilingual.catalogs.translator(language)
    consent = multilingual.dialogues["intake"].step("consent").ask
    assert consent is not None
    for number, (text, msgid) in enumerate(ANSWERS, start=1):
        clock.advance(seconds=20)
        inbound = InboundMessage(
            channel="telegram",
            address=f"tg-{language}",
            text=text,
            provider_id=f"{language}-{number}",
            received_at=clock(),
            language_hint=language,
        )
        replies = "\n".join(
            render_text(r) for r in receive(multilingual, inbound, reply_inline=True).replies
        )
        expected = translator.gettext(msgid or consent)
        if msgid is None:
            expected = expected.split("{")[0][:25]
        expected = fill(expected, {"name": "Sam"})
        assert expected in replies, f"{language} turn {number}: {expected!r} not in {replies!r}"
        if language not in ("en",):
            assert expected != (msgid or consent)[: len(expected)], "not translated"
    with multilingual.sessions() as session:
        handoff = session.scalars(select(Handoff)).one()
    assert (handoff.language, handoff.status, handoff.display_name) == (
        language,
        "requested",
        "Sam",
    )
    assert handoff.created_at <= clock.now <= handoff.created_at + dt.timedelta(minutes=5)

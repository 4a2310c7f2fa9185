"""Choosing and switching the conversation language through `receive()` (SQLite)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import Program, load_program
from bot.conversations import receive
from bot.db import upgrade
from bot.models import Contact, Conversation
from bot.nlu.base import Interpreter
from bot.paths import dialogues_dir
from bot.services import Services, build_services
from connectors.base import InboundMessage, OutboundMessage
from tests.conftest import FakeClock, make_settings

ES_CATALOG = r"""
msgid ""
msgstr ""
"Content-Type: text/plain; charset=utf-8\n"
"Language: es\n"

msgid "Are you safe right now?"
msgstr "¿Estás a salvo ahora?"

msgid "What kind of help would you like?"
msgstr "¿Qué tipo de ayuda quieres?"
"""
_ids = itertools.count()


@pytest.fixture
def program() -> Program:
    demo = load_program(dialogues_dir() / "program.demo.yaml")
    return demo.model_copy(update={"languages": ("en", "es", "vi")})


@pytest.fixture
def multi(
    tmp_path: Path,
    interpreter: Interpreter,
    clock: FakeClock,
    program: Program,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Services]:
    """English, Spanish and Vietnamese enabled; a tiny Spanish catalog to see the switch."""
    locales = tmp_path / "locales"
    (locales / "es" / "LC_MESSAGES").mkdir(parents=True)
    (locales / "es" / "LC_MESSAGES" / "messages.po").write_text(ES_CATALOG, encoding="utf-8")
    monkeypatch.setenv("DOORWAY_LOCALES_DIR", str(locales))
    url = f"sqlite:///{tmp_path / 'doorway.sqlite3'}"
    built = build_services(
        make_settings(url, tmp_path / "data"), program=program, interpreter=interpreter, clock=clock
    )
    upgrade(built.engine)
    try:
        yield built
    finally:
        built.close()


def send(services: Services, text: str, address: str = "+15555550123") -> list[OutboundMessage]:
    message = InboundMessage(
        channel="sms",
        address=address,
        text=text,
        provider_id=f"SM{next(_ids)}",
        received_at=dt.datetime.now(dt.UTC),
    )
    return list(receive(services, message, reply_inline=True).replies)


def conversation(services: Services) -> Conversation:
    with services.sessions() as session:
        found = session.scalars(select(Conversation).order_by(Conversation.id.desc())).first()
        assert found is not None
        session.expunge(found)
        return found


def contact_language(services: Services) -> str | None:
    with services.sessions() as session:
        return session.scalars(select(Contact.language)).one()


def test_a_short_first_message_gets_the_default_welcome_and_the_offer(multi: Services) -> None:
    replies = send(multi, "hi")
    assert conversation(multi).language == "en"
    assert replies[-1].text == "Español: responde ES · Tiếng Việt: trả lời VI"
    assert replies[-2].step == "help_kind"


def test_a_first_message_in_spanish_is_answered_in_spanish(multi: Services) -> None:
    replies = send(multi, "hola, necesito ayuda con mi consumo")
    assert conversation(multi).language == "es"
    assert contact_language(multi) == "es"
    assert replies[-1].text == "¿Qué tipo de ayuda quieres?"
    assert all("responde ES" not in r.text for r in replies)


def test_an_explicit_first_request_picks_the_language(multi: Services) -> None:
    replies = send(multi, "ES")
    assert conversation(multi).language == "es"
    assert replies[-1].step == "help_kind"


def test_switching_mid_intake_keeps_the_slots_and_asks_again(multi: Services) -> None:
    send(multi, "hi")
    send(multi, "1")  # talk today
    send(multi, "Sam")  # name
    before = conversation(multi)
    assert before.step == "safe_now"
    replies = send(multi, "en español por favor")
    after = conversation(multi)
    assert after.language == "es"
    assert after.step == "safe_now"
    assert after.slots == before.slots
    assert after.slots is not None
    assert '"name": "Sam"' in after.slots
    assert replies[-1].text == "¿Estás a salvo ahora?"
    assert contact_language(multi) == "es"


def test_a_bare_code_switches_too(multi: Services) -> None:
    send(multi, "hi")
    send(multi, "VI")
    assert conversation(multi).language == "vi"


def test_a_language_that_is_not_enabled_gets_the_default_and_the_hotline(
    multi: Services, program: Program
) -> None:
    replies = send(multi, "мне нужна помощь, я не знаю что делать")
    assert conversation(multi).language == "en"
    assert replies[0].text == (
        f"Sorry, we can't write in your language yet. You can call {program.hotline} for help."
    )
    assert replies[-1].step == "help_kind"


def test_asking_for_a_language_that_is_not_enabled_mid_intake(
    multi: Services, program: Program
) -> None:
    send(multi, "hi")
    replies = send(multi, "français")
    assert conversation(multi).language == "en"
    assert program.hotline in replies[0].text
    assert replies[-1].step == "help_kind"


def test_a_program_with_one_language_never_offers(sqlite_services: Services) -> None:
    sqlite_services.program = sqlite_services.program.model_copy(
        update={"languages": ("en",), "default_language": "en"}
    )
    replies = send(sqlite_services, "hi")
    assert all("·" not in r.text for r in replies)


def test_a_short_first_message_gets_the_offer_of_other_languages(
    sqlite_services: Services,
) -> None:
    sqlite_services.program = load_program(dialogues_dir() / "program.demo.yaml")
    assert len(sqlite_services.program.languages) == 11  # the demo enables every language
    replies = send(sqlite_services, "hi")
    offer = replies[-1].text
    assert "Español" in offer and "·" in offer
    assert replies[-2].step == "help_kind"  # the question first, in the default language

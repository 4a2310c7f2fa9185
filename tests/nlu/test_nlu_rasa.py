"""RasaInterpreter against a real local HTTP server speaking Rasa 3.6's wire format."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.nlu.base import Entity, Parse
from bot.nlu.rasa_http import RasaInterpreter
from tests.fakes.rasa_server import FakeRasa, running_fake_rasa


class Recorder:
    """A fallback that answers a fixed parse and remembers what it was asked."""

    answer = Parse(intent="request_help", confidence=0.77, ranking=(("request_help", 0.77),))

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def parse(self, text: str, language: str) -> Parse:
        self.calls.append((text, language))
        return self.answer


@pytest.fixture()
def rasa() -> Iterator[FakeRasa]:
    with running_fake_rasa() as state:
        yield state


@pytest.fixture()
def fallback() -> Recorder:
    return Recorder()


@pytest.fixture()
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as http:
        yield http


def make(rasa: FakeRasa, fallback: Recorder, client: httpx.Client, **kw: object) -> RasaInterpreter:
    return RasaInterpreter(rasa.url, fallback=fallback, client=client, **kw)  # type: ignore[arg-type]


def test_normal_parse(rasa: FakeRasa, fallback: Recorder, client: httpx.Client) -> None:
    rasa.intent = "change_language"
    rasa.entities = [
        {
            "entity": "language",
            "start": 3,
            "end": 10,
            "value": "es",
            "confidence_entity": 0.98,
            "extractor": "DIETClassifier",
            "processors": ["EntitySynonymMapper"],
        }
    ]
    interpreter = make(rasa, fallback, client)
    parse = interpreter.parse("in spanish please", "en")
    assert parse.intent == "change_language"
    assert parse.confidence == pytest.approx(0.93)
    assert parse.ranking[0] == ("change_language", 0.93)
    assert parse.entities == (Entity("language", "es", 3, 10, 0.98),)
    assert fallback.calls == []
    assert interpreter.fallback_counts == {}
    (request,) = rasa.requests
    assert (request.method, request.path, request.query) == ("POST", "/model/parse", {})
    assert request.body == {"text": "in spanish please"}


def test_token_goes_in_the_query(rasa: FakeRasa, fallback: Recorder, client: httpx.Client) -> None:
    make(rasa, fallback, client, token="s3cret").parse("hi", "en")
    assert rasa.requests[0].query == {"token": ["s3cret"]}


def test_null_and_fallback_intents_are_out_of_scope(
    rasa: FakeRasa, fallback: Recorder, client: httpx.Client
) -> None:
    interpreter = make(rasa, fallback, client)
    rasa.intent = None
    assert interpreter.parse("zzz", "en").intent == "out_of_scope"
    rasa.intent = "nlu_fallback"
    assert interpreter.parse("zzz", "en").intent == "out_of_scope"
    assert fallback.calls == []


@pytest.mark.parametrize(
    ("mode", "intent", "reason"),
    [
        ("slow", "greet", "timeout"),
        ("parsing_error", "greet", "http_500"),
        ("garbage", "greet", "malformed"),
        ("ok", "order_pizza", "unknown_intent"),  # a model trained on other data
    ],
)
def test_failures_use_the_fallback_and_are_counted(
    rasa: FakeRasa, fallback: Recorder, client: httpx.Client, mode: str, intent: str, reason: str
) -> None:
    rasa.mode, rasa.delay, rasa.intent = mode, 0.5, intent
    interpreter = make(rasa, fallback, client, timeout=0.1)
    assert interpreter.parse("i need help", "es") == Recorder.answer
    assert fallback.calls == [("i need help", "es")]
    assert interpreter.fallback_counts == {reason: 1}


def test_malformed_json_shapes(rasa: FakeRasa, fallback: Recorder, client: httpx.Client) -> None:
    interpreter = make(rasa, fallback, client)
    shapes: list[Any] = [
        [],
        {"intent": "greet"},
        {"intent": {"name": "greet", "confidence": "high"}},
    ]
    for body in shapes:
        rasa.responder = lambda _request, body=body: body
        assert interpreter.parse("hi", "en") == Recorder.answer
    assert interpreter.fallback_counts == {"malformed": 3}


def test_connection_refused_uses_the_fallback(fallback: Recorder, client: httpx.Client) -> None:
    with running_fake_rasa() as gone:
        url = gone.url
    interpreter = RasaInterpreter(url, fallback=fallback, client=client)
    assert interpreter.parse("hi", "en") == Recorder.answer
    assert interpreter.fallback_counts == {"connection": 1}


def test_per_language_url_and_served_languages(
    rasa: FakeRasa, fallback: Recorder, client: httpx.Client
) -> None:
    RasaInterpreter(f"{rasa.url}/{{language}}", fallback=fallback, client=client).parse(
        "x", "es-MX"
    )
    assert rasa.requests[-1].path == "/es/model/parse"
    only_en = make(rasa, fallback, client, languages=["en"])
    only_en.parse("hola", "es")
    assert fallback.calls == [("hola", "es")]
    assert only_en.fallback_counts == {}  # by design, not a failure

"""An interpreter that asks a Rasa 3 server (`POST /model/parse`), falling back when it can't."""

from __future__ import annotations

import json
import logging
import math
import threading
from collections import Counter
from collections.abc import Collection
from typing import Any

import httpx

from bot.nlu.base import INTENTS, OUT_OF_SCOPE, Entity, Interpreter, Parse
from bot.nlu.normalize import base_language

log = logging.getLogger(__name__)

#: Rasa's FallbackClassifier predicts this when it is unsure; it means out_of_scope here.
RASA_FALLBACK_INTENT = "nlu_fallback"
_KNOWN = frozenset(INTENTS)


class RasaResponseError(ValueError):
    """The server answered, but not with a parse we can trust."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _confidence(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RasaResponseError("malformed")
    return min(max(float(value), 0.0), 1.0)


def _intent_name(name: Any) -> str:
    """Rasa's null intent and its fallback intent mean "not understood"."""
    if name is None or name == RASA_FALLBACK_INTENT:
        return OUT_OF_SCOPE
    if not isinstance(name, str):
        raise RasaResponseError("malformed")
    if name not in _KNOWN:
        raise RasaResponseError("unknown_intent")
    return name


def _entities(raw: Any) -> tuple[Entity, ...]:
    """Well-formed entities only: one odd entity must not discard the whole parse."""
    if not isinstance(raw, list):
        return ()
    found = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        name, start, end = item.get("entity"), item.get("start"), item.get("end")
        if not isinstance(name, str) or not isinstance(start, int) or not isinstance(end, int):
            continue
        score = item.get("confidence_entity", 1.0)
        try:
            confidence = _confidence(score) if score is not None else 1.0
        except RasaResponseError:
            confidence = 1.0
        found.append(
            Entity(
                entity=name,
                value=str(item.get("value", "")),
                start=start,
                end=end,
                confidence=confidence,
            )
        )
    return tuple(found)


def parse_rasa_response(body: Any) -> Parse:
    """Turn Rasa's `/model/parse` JSON into a `Parse`; raises `RasaResponseError`."""
    if not isinstance(body, dict) or not isinstance(body.get("intent"), dict):
        raise RasaResponseError("malformed")
    intent = body["intent"]
    name = _intent_name(intent.get("name"))
    confidence = _confidence(intent.get("confidence", 0.0) or 0.0)
    ranking: dict[str, float] = {}
    raw_ranking = body.get("intent_ranking")
    for item in raw_ranking if isinstance(raw_ranking, list) else []:
        if not isinstance(item, dict):
            continue
        try:
            ranked, score = _intent_name(item.get("name")), _confidence(item.get("confidence"))
        except RasaResponseError:
            continue  # a ranking entry we don't know is not worth losing the parse for
        ranking[ranked] = max(score, ranking.get(ranked, 0.0))
    ranking.setdefault(name, confidence)
    ordered = tuple(sorted(ranking.items(), key=lambda pair: -pair[1]))
    return Parse(
        intent=name,
        confidence=confidence,
        ranking=ordered,
        entities=_entities(body.get("entities")),
    )


class RasaInterpreter:
    """Uses a Rasa server when it answers well and in time, else the fallback interpreter.

    `url` may contain "{language}" to reach one Rasa server per language. Without it,
    only `languages` (all, when None) are sent to the server: a single-language Rasa
    model would misread text in other languages.
    """

    #: A parse waits on the server (up to `timeout`): webhooks never run it on the event loop.
    may_block = True

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        fallback: Interpreter,
        timeout: float = 1.0,
        client: httpx.Client | None = None,
        languages: Collection[str] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.fallback = fallback
        self.timeout = timeout
        self.languages = None if languages is None else {base_language(c) for c in languages}
        #: Why parses went to the fallback, e.g. {"timeout": 2}; for metrics, never shown.
        self.fallback_counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout)

    def close(self) -> None:
        """Close the HTTP client if we created it."""
        if self._owns_client:
            self._client.close()

    def _endpoint(self, language: str) -> str:
        base = self.url.replace("{language}", base_language(language) or "en")
        return f"{base}/model/parse"

    def _fall_back(self, reason: str, text: str, language: str) -> Parse:
        with self._lock:
            self.fallback_counts[reason] += 1
        log.warning("Rasa NLU unavailable (%s); using the built-in interpreter", reason)
        return self.fallback.parse(text, language)

    def parse(self, text: str, language: str) -> Parse:
        """Rasa's parse, or the fallback's on any failure. Never raises."""
        try:
            return self._parse(text, language)
        except Exception:
            log.exception("Rasa interpreter failed unexpectedly")
            try:
                return self._fall_back("error", text, language)
            except Exception:
                return Parse.unknown()

    def _parse(self, text: str, language: str) -> Parse:
        if not isinstance(text, str):
            return Parse.unknown()
        lang = language if isinstance(language, str) else ""
        if (
            "{language}" not in self.url
            and self.languages is not None
            and base_language(lang) not in self.languages
        ):
            return self.fallback.parse(text, language)  # by design, not a failure
        params = {"token": self.token} if self.token else None
        try:
            response = self._client.post(
                self._endpoint(lang), json={"text": text}, params=params, timeout=self.timeout
            )
        except httpx.TimeoutException:
            return self._fall_back("timeout", text, language)
        except httpx.TransportError:
            return self._fall_back("connection", text, language)
        if response.status_code != 200:
            return self._fall_back(f"http_{response.status_code}", text, language)
        try:
            return parse_rasa_response(response.json())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return self._fall_back("malformed", text, language)
        except RasaResponseError as exc:
            return self._fall_back(exc.reason, text, language)

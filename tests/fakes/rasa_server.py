"""A real local HTTP server that speaks Rasa 3.6's `/model/parse` wire format, for tests."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

RASA_VERSION = "3.6.21"


@dataclass
class RecordedRequest:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


def rasa_parse_body(text: str, intent: str | None, confidence: float = 0.93) -> dict[str, Any]:
    """What Rasa 3.6.21 answers for a successful parse."""
    ranking = [{"name": intent, "confidence": confidence}] if intent else []
    if intent:
        ranking.append({"name": "out_of_scope", "confidence": round(1 - confidence, 4)})
    tokens = []
    offset = 0
    for word in text.split():
        start = text.index(word, offset)
        tokens.append([start, start + len(word)])
        offset = start + len(word)
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence if intent else 0.0},
        "entities": [],
        "text_tokens": tokens,
        "intent_ranking": ranking,
        "response_selector": {
            "all_retrieval_intents": [],
            "default": {
                "response": {
                    "responses": None,
                    "confidence": 0.0,
                    "intent_response_key": None,
                    "utter_action": "utter_None",
                },
                "ranking": [],
            },
        },
    }


PARSING_ERROR = {
    "version": RASA_VERSION,
    "status": "failure",
    "message": "An unexpected error occurred. Error: 'text'",
    "reason": "ParsingError",
    "code": 500,
}


@dataclass
class FakeRasa:
    """Behaviour switches and the request log; change them between requests."""

    mode: str = "ok"  # "ok" | "slow" | "parsing_error" | "garbage"
    delay: float = 0.0
    intent: str | None = "greet"
    confidence: float = 0.93
    entities: list[dict[str, Any]] = field(default_factory=list)
    responder: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    url: str = ""


def _handler(state: FakeRasa) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return

        def _send(self, status: int, payload: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(payload)  # the client may have given up (timeout tests)

        def do_POST(self) -> None:
            split = urlsplit(self.path)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = raw.decode("utf-8", "replace")
            state.requests.append(RecordedRequest("POST", split.path, parse_qs(split.query), body))
            if not split.path.endswith("/model/parse"):
                self._send(404, b'{"status": "failure", "code": 404}', "application/json")
                return
            if state.mode == "slow":
                time.sleep(state.delay)
            if state.mode == "garbage":
                self._send(200, b"<html>\x00not json", "application/json")
                return
            if state.mode == "parsing_error" or not isinstance(body, dict) or "text" not in body:
                self._send(500, json.dumps(PARSING_ERROR).encode(), "application/json")
                return
            if state.responder is not None:
                answer = state.responder(body)
            else:
                answer = rasa_parse_body(str(body["text"]), state.intent, state.confidence)
                answer["entities"] = state.entities
            self._send(200, json.dumps(answer).encode(), "application/json")

    return Handler


@contextmanager
def running_fake_rasa() -> Iterator[FakeRasa]:
    """Start the fake on 127.0.0.1 with a free port; yields its state (with `.url`)."""
    state = FakeRasa()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    state.url = f"http://{host!s}:{port}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

"""Fuzzing the web chat API: hypothesis on raw requests, schemathesis on the OpenAPI schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.services import Services
from bot.web.app import create_app

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def app(sqlite_services: Services, monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    # Fuzzing is a flood by design: the rate limits are tested elsewhere.
    for name in ("WEB_MESSAGES", "WEB_SESSIONS", "WEB_HISTORY"):
        monkeypatch.setenv(f"DOORWAY_RATELIMIT_{name}_PER_MINUTE", "1000000")
    return create_app(sqlite_services)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"text": st.text(max_size=300), "client_id": st.from_regex(r"^[A-Za-z0-9_-]{1,64}$")}
    ),
    st.fixed_dictionaries({"text": json_values, "client_id": json_values}),
)
header_values = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)
authorization = st.one_of(
    st.none(),
    header_values,
    st.from_regex(r"^Bearer [A-Za-z0-9_-]{32,64}$", fullmatch=True),
)
content_types = st.sampled_from(
    [
        "application/json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "",
        "application/json; charset=latin-1",
    ]
)


def _check(response: Any) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        payload = response.json()
        assert payload["error"] and payload["reason"]


@FUZZ
@given(body=bodies, auth=authorization, ctype=content_types)
def test_posting_any_json_never_crashes(
    client: TestClient, body: Any, auth: str | None, ctype: str
) -> None:
    headers = {"Content-Type": ctype}
    if auth is not None:
        headers["Authorization"] = auth
    response = client.post("/api/chat/messages", content=json.dumps(body), headers=headers)
    _check(response)


@FUZZ
@given(raw=st.binary(max_size=2000), auth=authorization)
def test_posting_any_bytes_never_crashes(client: TestClient, raw: bytes, auth: str | None) -> None:
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Authorization"] = auth
    _check(client.post("/api/chat/messages", content=raw, headers=headers))


@FUZZ
@given(
    auth=authorization,
    extra=st.dictionaries(
        st.from_regex(r"^X-[A-Za-z-]{1,20}$", fullmatch=True), header_values, max_size=3
    ),
)
def test_reading_history_with_any_headers_never_crashes(
    client: TestClient, auth: str | None, extra: dict[str, str]
) -> None:
    headers = dict(extra)
    if auth is not None:
        headers["Authorization"] = auth
    _check(client.get("/api/chat/messages", headers=headers))


# --- schemathesis: every operation of the OpenAPI schema ---------------------------------------


#: 413 is a right answer to invalid data too (text over the schema's length is over 64 KiB);
#: the Allow header check trips on Starlette's routing (one route per method), not on us.
CONFIG = schemathesis.Config.from_dict(
    {
        "checks": {
            "negative_data_rejection": {"expected-statuses": [400, 401, 413, 422]},
            "allow_header_conformance": {"enabled": False},
        }
    }
)


@pytest.fixture
def api_schema(app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case: Any) -> None:
    case.call_and_validate()

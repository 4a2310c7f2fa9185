"""The OpenAPI schema tells the truth about errors: every one is `{"error", "reason"}`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error", "reason"],
    "properties": {
        "error": {"type": "string", "description": "a short machine-readable code"},
        "reason": {"type": "string", "description": "what was wrong, for a developer"},
    },
}
_REF = {"$ref": "#/components/schemas/Error"}


def _error(description: str, *, retry_after: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _REF}},
    }
    if retry_after:
        response["headers"] = {
            "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}
        }
    return response


def document_errors(app: FastAPI, rate_limited: Iterable[tuple[str, str]] = ()) -> None:
    """Replace FastAPI's default 422 shape and add the errors our middlewares answer with."""
    limited = {(method.lower(), path) for method, path in rate_limited}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Error"] = ERROR_SCHEMA
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                _document(operation, (method, path) in limited)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document(operation: dict[str, Any], limited: bool) -> None:
    responses = operation.setdefault("responses", {})
    headers = {
        p["name"].lower() for p in operation.get("parameters", []) if p.get("in") == "header"
    }
    if "authorization" in headers:
        responses["401"] = _error("no valid session token")
    if "requestBody" in operation:
        responses["400"] = _error("the body could not be read")
        responses["413"] = _error("the body is too large")
    if "422" in responses or "requestBody" in operation or operation.get("parameters"):
        responses["422"] = _error("the request does not have the expected shape")
    if limited:
        responses["429"] = _error("too many requests from this address", retry_after=True)

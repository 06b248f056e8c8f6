"""The OpenAPI document says every answer the gateway can give, in the shape it gives it.

FastAPI documents a route's success and, where it has parameters, a 422 in its own
`HTTPValidationError` shape. Ours differs (http/errors.py: `detail` is a sentence naming
the field, `errors` lists each problem), and the edge adds answers no route declares:
401 for a missing or unknown key, 403 for a key whose scope does not allow the call, 404
for a resource that is not the caller's, 409 / 413 / 422 from Idempotency-Key, 413 and
408 for a body over its size or time limit (http/body_limits.py), 429 for a limit, 503
when RabbitMQ, Postgres or Redis is out of reach. Each is added here to the operations
that can answer it, so clients and schemathesis can rely on the document.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ..settings import GatewaySettings

_ERROR = {"$ref": "#/components/schemas/Error"}

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "properties": {"detail": {"type": "string", "title": "Detail"}},
    "required": ["detail"],
}
VALIDATION_SCHEMA: dict[str, Any] = {
    "title": "HTTPValidationError",
    "type": "object",
    "properties": {
        "detail": {
            "type": "string",
            "title": "Detail",
            "description": "the first problem, as `field: message`",
        },
        "errors": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/ValidationError"},
        },
    },
    "required": ["detail"],
}
FIELD_ERROR_SCHEMA: dict[str, Any] = {
    "title": "ValidationError",
    "type": "object",
    "properties": {
        "field": {"type": "string"},
        "message": {"type": "string"},
        "type": {"type": "string"},
    },
    "required": ["field", "message"],
}

RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
DESCRIPTIONS = {
    "400": "rejected (a provider callback that cannot be verified or read)",
    "401": "missing, unknown, expired or revoked API key",
    "403": "the key's scope does not allow this (ops API: admin keys only; a user key "
    "acts for its own user only)",
    "404": "no such resource, or not the caller's",
    "408": "the request body did not arrive within BODY_READ_TIMEOUT ({body_read_timeout:g} "
    "s, the time spent waiting for it); the connection is closed",
    "409": "a request with this Idempotency-Key is still being processed, or a conflict",
    "413": "the request body is over its limit: MAX_BODY_BYTES ({max_body_bytes} bytes), "
    "WEBHOOK_MAX_BYTES ({webhook_max_bytes}) for a provider callback, the endpoint's own for "
    "a CSV or multipart upload; IDEMPOTENCY_MAX_BODY_BYTES ({idempotency_max_body_bytes}) "
    "with an Idempotency-Key",
    "422": "invalid input, naming the offending field (or an Idempotency-Key reused with "
    "another request)",
    "429": "over a limit (or too many unknown keys from this address); see Retry-After",
    "503": "RabbitMQ, Postgres or Redis is out of reach; nothing was done, see Retry-After",
}


def _error(status: str, schema: dict[str, Any], settings: GatewaySettings) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": DESCRIPTIONS[status].format(**settings.model_dump()),
        "content": {"application/json": {"schema": schema}},
    }
    if status in ("429", "503"):
        answer["headers"] = RETRY_AFTER
    return answer


def errors_for(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    """The error statuses an operation of the API (/v1) can answer besides its own."""
    if not path.startswith("/v1/"):
        return []
    statuses = ["401", "403", "422", "429", "503"]
    if "{" in path:
        statuses.append("404")
    if method == "post":
        statuses += ["408", "409", "413"]
    return statuses


def document_errors(document: dict[str, Any], settings: GatewaySettings) -> dict[str, Any]:
    """`document` with our error shapes and every error answer each operation can give."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    schemas["HTTPValidationError"] = VALIDATION_SCHEMA
    schemas["ValidationError"] = FIELD_ERROR_SCHEMA
    validation = {"$ref": "#/components/schemas/HTTPValidationError"}
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            statuses = errors_for(path, method, operation)
            if "400" in responses:
                statuses.append("400")  # a declared 400 answers in our error shape
            for status in statuses:
                answer = _error(status, validation if status == "422" else _ERROR, settings)
                kept = responses.get(status, {})
                if status != "422" and kept.get("content"):
                    answer["content"] = kept["content"]  # the route's own model
                if kept.get("description") and status != "422":
                    answer["description"] = kept["description"]
                responses[status] = answer
    return document


def install(app: FastAPI) -> None:
    """Serve the completed document at /openapi.json (built once, then cached)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                ),
                app.state.settings,
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

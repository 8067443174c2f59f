"""A service's OpenAPI document as the API answers: FastAPI's, completed from the edge's rules.

What FastAPI cannot see is added per operation: the bearer scheme where the edge asks for a
credential, and each error status the operation can answer, as `application/problem+json`
(401/403 where a credential is needed, 404 where the path or the body names something, 409 on
a change, 400 and 413 where a body is read, 422 where input is parsed, 428 where an `Idempotency-Key` may be
required, 429 and 503 everywhere). A route adds its own with FastAPI's `responses=`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from .edge import route_rules
from .problems import PROBLEM_JSON, Problem

if TYPE_CHECKING:
    from .settings import Settings

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An error (RFC 9457)",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
_WHY = {
    400: "The body is not JSON",
    401: "No valid credential (missing, malformed, expired or revoked)",
    403: "The credential's role or scope does not cover this",
    404: "What the path names does not exist",
    409: "The change conflicts with what is recorded",
    413: "The body is larger than this operation accepts",
    422: "The input is not valid",
    428: "An Idempotency-Key header is required",
    429: "Too many requests: retry after Retry-After seconds",
    503: "Unavailable for now (a dependency, or views not caught up): retry after Retry-After seconds",
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}}
_CHANGES = frozenset({"post", "put", "patch", "delete"})


def _problem(status: int, description: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": description or _WHY.get(status) or Problem(status, "").title,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    if status in (429, 503):
        answer["headers"] = _RETRY_AFTER
    return answer


def _statuses(method: str, operation: dict[str, Any], protected: bool) -> set[int]:
    parameters = operation.get("parameters", [])
    where = {p.get("in") for p in parameters}
    statuses = {429, 503}
    if protected:
        statuses |= {401, 403}
    if "path" in where:
        statuses.add(404)
    if method in _CHANGES:
        statuses.add(409)
    if "requestBody" in operation:
        # 400: a body that is not JSON; 404: an id in the body naming nothing (a venue, a bill)
        statuses |= {400, 404, 413, 422}
    if where & {"query", "path", "header"}:
        statuses.add(422)
    if any(p.get("name", "").lower() == "idempotency-key" for p in parameters):
        statuses |= {409, 428}
    return statuses


def complete(document: dict[str, Any], protected: set[tuple[str, str]], uploads: dict[str, int]) -> None:
    """Add the bearer scheme, the problem schema and the error statuses to `document`."""
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})["bearer"] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A client's token from POST /catalog/v1/clients (or the admin token)",
    }
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    # FastAPI's own validation error shape is never answered: 422 is a problem document.
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            guarded = (path, method.upper()) in protected
            if guarded:
                operation["security"] = [{"bearer": []}]
            responses = operation.setdefault("responses", {})
            for status in sorted(_statuses(method, operation, guarded)):
                given = responses.get(str(status))
                description = given.get("description") if given and status != 422 else None
                responses[str(status)] = _problem(status, description)
            if path in uploads and "requestBody" in operation:
                operation["requestBody"]["description"] = f"At most {uploads[path]} bytes"


def install_openapi(app: FastAPI, settings: Settings) -> None:
    """Serve `app`'s document completed (built once, on the first request for it)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, routes=app.routes)
            protected, uploads = set(), {}
            for rules in route_rules(app, settings):
                path = getattr(rules.route, "path", "")
                if rules.protected:
                    protected |= {(path, method) for method in rules.methods}
                if rules.max_body != settings.max_body_bytes:
                    uploads[path] = rules.max_body
            complete(document, protected, uploads)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

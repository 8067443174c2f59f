"""Errors as application/problem+json (RFC 9457)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from onecard_events.aggregate import Refused
from onecard_events.store import ConcurrencyError
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    408: "Request timeout",
    409: "Conflict",
    413: "Content too large",
    414: "URI too long",
    422: "Unprocessable content",
    428: "Precondition required",
    429: "Too many requests",
    431: "Request header fields too large",
    500: "Internal server error",
    503: "Service unavailable",
}


class Problem(Exception):
    """Raise from a handler or route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        type_: str | None = None,
        errors: list[dict[str, str]] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or _TITLES.get(status, "Error")
        self.type = type_ or f"urn:onecard:problem:{self.title.lower().replace(' ', '-')}"
        self.errors = errors
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


def not_found(what: str, ident: str) -> Problem:
    return Problem(404, f"{what} {ident!r} does not exist", type_="urn:onecard:problem:not-found")


def conflict(detail: str, **extra: Any) -> Problem:
    return Problem(409, detail, type_="urn:onecard:problem:conflict", **extra)


def invalid(field: str, message: str, status: int = 422) -> Problem:
    return Problem(
        status,
        f"{field}: {message}",
        title="Validation failed",
        type_="urn:onecard:problem:validation",
        errors=[{"field": field, "message": message}],
    )


def refusal_problem(refused: Refused) -> Problem:
    """The one mapping of a domain refusal to problem+json."""
    extra: dict[str, Any] = {"code": refused.code} if refused.code else {}
    if refused.errors:
        return Problem(
            refused.status,
            refused.detail,
            title="Validation failed" if refused.status == 422 else None,
            type_="urn:onecard:problem:validation" if refused.status == 422 else None,
            errors=[{"field": f, "message": m} for f, m in refused.errors],
            **extra,
        )
    types = {404: "urn:onecard:problem:not-found", 409: "urn:onecard:problem:conflict"}
    return Problem(refused.status, refused.detail, type_=types.get(refused.status), **extra)


RETRY_AFTER_SECONDS = 2


def unavailable(detail: str, retry_after: int = RETRY_AFTER_SECONDS) -> Problem:
    """503: a dependency is down or a wait ran out; the client retries after `retry_after` seconds."""
    return Problem(503, detail, type_="urn:onecard:problem:unavailable", retry_after=retry_after)


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database cannot be reached (refused, dropped, restarting, pool
    exhausted), as opposed to a fault in the request or the code. SQLAlchemy wraps the driver's
    error, so the whole chain of causes is looked at."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _connection_error(current):
            return True
        current = current.__cause__ or current.__context__
    return False


_CONNECTION_ERRORS = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    ConnectionError,
    TimeoutError,
    socket.gaierror,
)


def _connection_error(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        if "sqlite" in type(exc.orig).__module__:
            # Embedded: only a held write lock is transient; "no such table" is a fault.
            return "locked" in str(exc.orig)
        return isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)
    if isinstance(exc, sa_exc.TimeoutError):  # the pool had no connection to give in time
        return True
    # asyncpg's connect raises the socket's own errors (refused, reset, timed out).
    return isinstance(exc, _CONNECTION_ERRORS)


def problem_response(problem: Problem, headers: Mapping[str, str] | None = None) -> JSONResponse:
    headers = dict(headers or {})
    if problem.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if "retry_after" in problem.extra:
        headers["Retry-After"] = str(problem.extra["retry_after"])
    return JSONResponse(
        problem.body(), status_code=problem.status, media_type=PROBLEM_JSON, headers=headers or None
    )


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(exc)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        # Messages only: pydantic's "input" echo could carry an ssn or a name back to the caller.
        errors = [
            {"field": _field(tuple(e.get("loc", ()))), "message": str(e.get("msg", ""))} for e in exc.errors()
        ]
        return problem_response(
            Problem(
                422,
                "the request is not valid",
                title="Validation failed",
                type_="urn:onecard:problem:validation",
                errors=errors,
            )
        )

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        # The exception's headers carry what the status needs: `Allow` on a 405.
        return problem_response(Problem(exc.status_code, str(exc.detail)), exc.headers)

    async def on_refused(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Refused)
        return problem_response(refusal_problem(exc))

    async def on_conflict(_: Request, exc: Exception) -> JSONResponse:
        return problem_response(conflict(f"concurrent change, retry: {exc}"))

    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        if database_unavailable(exc):
            # Logged once per request without a traceback: an outage is an expected state.
            log.warning(
                "database unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__
            )
            return problem_response(unavailable("the database is unavailable; retry shortly"))
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(Problem(500, "the server failed to handle the request"))

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Refused, on_refused)
    app.add_exception_handler(ConcurrencyError, on_conflict)
    # Connection errors are handled inside the app (Starlette re-raises what reaches its catch-all
    # handler, so an outage would log a traceback per request): the 503 is an answer, not a crash.
    for outage in (
        sa_exc.DBAPIError,
        sa_exc.TimeoutError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        OSError,
    ):
        app.add_exception_handler(outage, on_error)
    app.add_exception_handler(Exception, on_error)

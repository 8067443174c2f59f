"""`POST /identity/v1/verifications` as plain ASGI: the hot path without FastAPI's per-request
machinery (routing through the included routers, dependency solving, the response model).

It runs inside the app's middlewares, so the edge (credential, rate limits, body limits), the
metrics, the access log, tracing and the consistency token see it as before; FastAPI's route stays
declared, so the OpenAPI document is unchanged. Only a request on the usual path is answered
here: a JSON body that validates, a caller whose role may verify, a well-formed Idempotency-Key
or none. Anything else goes on to FastAPI's route with the same body, which answers it as it
always did (its 401, 403 and 422 problems). Errors raised while verifying are answered by the
app's own exception handlers, as FastAPI would.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import Request
from onecard_service.auth import Principal
from onecard_service.edge import PRINCIPAL_KEY, replay
from pydantic import TypeAdapter, ValidationError
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..adapters.context import Identity
from .api import PREFIX, VERIFYING, VerificationIn, verify_request

Handler = Callable[[Request, Exception], Awaitable[Any]]

PATH = f"{PREFIX}/verifications"
_BODY = TypeAdapter(VerificationIn)
_JSON = b"application/json"
_KEY = b"idempotency-key"


class FastVerifications:
    """ASGI middleware, innermost of the app's own: see the module's docstring."""

    def __init__(self, app: ASGIApp, ctx: Identity, handlers: dict[Any, Handler]) -> None:
        self.app = app
        self.ctx = ctx
        # The handlers FastAPI's exception middleware has, by class (the catch-all stays outside).
        self.handlers = {k: v for k, v in handlers.items() if isinstance(k, type) and k is not Exception}
        self.answered = 0  # requests answered here, not by FastAPI's route (for the tests)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The edge matched the route and left the route's template in the scope (edge.py).
        if scope["type"] != "http" or getattr(scope.get("route"), "path", None) != PATH:
            await self.app(scope, receive, send)
            return
        caller = scope.get(PRINCIPAL_KEY)
        usual, key = _usual_headers(scope)
        if not usual or not isinstance(caller, Principal) or caller.role not in VERIFYING:
            await self.app(scope, receive, send)
            return
        message = await receive()
        body = _parsed(message)
        if body is None:
            await self.app(scope, replay(message, receive), send)
            return
        try:
            answer = await verify_request(self.ctx, body, caller, key)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            response = await handler(Request(scope, receive), exc)
            await response(scope, receive, send)
            return
        self.answered += 1
        payload = orjson.dumps(answer)
        # As FastAPI's JSONResponse: the same headers in the same order, the same compact JSON.
        headers = [(b"content-length", b"%d" % len(payload)), (b"content-type", _JSON)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    def _handler(self, exc: Exception) -> Handler | None:
        for cls in type(exc).__mro__:
            if cls in self.handlers:
                return self.handlers[cls]
        return None


def _usual_headers(scope: Scope) -> tuple[bool, str | None]:
    """Whether the headers are the usual ones (a JSON body, at most one Idempotency-Key of 1 to
    200 characters; FastAPI answers the others), and the key (None when absent)."""
    content_type = key = None
    for name, value in scope["headers"]:
        if name == b"content-type":
            if content_type is not None:
                return False, None
            content_type = value
        elif name == _KEY:
            if key is not None:
                return False, None
            key = value.decode("latin-1")
    if content_type != _JSON or (key is not None and not 1 <= len(key) <= 200):
        return False, None
    return True, key


def _parsed(message: Message) -> Any:
    """The request's body as FastAPI would validate it, or None to leave it to FastAPI."""
    if message["type"] != "http.request" or message.get("more_body", False):
        return None
    try:
        return _BODY.validate_python(orjson.loads(message.get("body", b"")))
    except (orjson.JSONDecodeError, ValidationError):
        return None


def install(app: Any, ctx: Identity) -> None:
    """Put the fast path innermost of the app's middlewares (before its stack is built)."""
    app.user_middleware.append(Middleware(FastVerifications, ctx=ctx, handlers=app.exception_handlers))

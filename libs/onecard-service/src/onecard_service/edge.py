"""The HTTP edge: what a request must pass before a service reads its body (docs/adr/0017).

Two layers, both here so the edge is read in one place:

- `EdgeHttpProtocol`: the HTTP server's connection (uvicorn's httptools protocol) with limits
  on the URL and the headers (414, 431), a read timeout on the request head (408), and its own
  errors as problem+json instead of uvicorn's plain-text 400.
- `EdgeGuard`: ASGI middleware on every service's app, in front of routing and FastAPI. Per
  request, in this order: the source address's rate limit (429), the credential of a protected
  route (401: before a byte of the body is read), the credential's rate limit (429), the declared
  `Content-Length` against the route's limit (413, at once), then the body itself, read with a
  read timeout (408) and counted as it streams (413 as soon as it passes the limit). Refusals of a
  body close the connection, so what the client still sends is never read.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi.routing import APIRoute, iter_route_contexts
from prometheus_client import CollectorRegistry, Counter
from starlette._utils import get_route_path
from starlette.routing import BaseRoute
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .auth import Principal, TokenVerifier, principal
from .problems import PROBLEM_JSON, Problem, problem_response

if TYPE_CHECKING:
    from fastapi.dependencies.models import Dependant

    from .settings import Settings

log = logging.getLogger(__name__)
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Where the guard leaves the caller it authenticated: the `principal` dependency takes it from
# here instead of verifying the token a second time.
PRINCIPAL_KEY = "onecard.principal"
# A route's `openapi_extra` marking it as an upload: its body may reach `max_upload_bytes`.
UPLOAD = {"x-onecard-upload": True}


@dataclass(frozen=True)
class Rate:
    """A token bucket: `per_second` tokens refill it, up to `burst`; a request takes one."""

    per_second: float
    burst: float

    @classmethod
    def parse(cls, text: str) -> Rate | None:
        """`rate/burst` (`20/40`), `rate` (burst twice the rate), or `off` (None: no limit)."""
        if text.strip().lower() == "off":
            return None
        rate, _, burst = text.partition("/")
        per_second = float(rate)
        return cls(per_second, float(burst) if burst else 2 * per_second)


# Per credential by its role, and per source address over every request. Generous: they stop a
# runaway or abusive client, not a busy venue (a venue's terminals share its credential).
DEFAULT_RATES: dict[str, Rate | None] = {
    "admin": Rate(1000, 2000),
    "operator": Rate(1000, 2000),
    "venue": Rate(2000, 4000),
    "merchant": Rate(1000, 2000),
    "department": Rate(100, 400),
    "partner": Rate(500, 1000),
    "address": Rate(5000, 10000),
}


def parse_rates(overrides: str) -> dict[str, Rate | None]:
    """The default rates with `ONECARD_RATE_LIMITS` applied: `role=rate/burst,address=off,...`."""
    rates = dict(DEFAULT_RATES)
    for item in filter(None, (part.strip() for part in overrides.split(","))):
        name, _, value = item.partition("=")
        if name not in rates:
            raise ValueError(f"ONECARD_RATE_LIMITS: unknown limit {name!r}; one of {', '.join(rates)}")
        rates[name] = Rate.parse(value)
    return rates


class TokenBuckets:
    """Token buckets by key, in memory: per process, so per replica (docs/operations.md)."""

    MAX_KEYS = 100_000

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}  # key: (tokens, when counted)

    def take(self, key: str, rate: Rate, now: float | None = None) -> float:
        """Take a token: 0.0 when there was one, else the seconds until there will be."""
        now = time.monotonic() if now is None else now
        tokens, counted = self._buckets.get(key, (rate.burst, now))
        tokens = min(rate.burst, tokens + (now - counted) * rate.per_second)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > self.MAX_KEYS:
            self._forget_full(now, rate)
        return (1 - tokens) / rate.per_second

    def _forget_full(self, now: float, rate: Rate) -> None:
        """Drop the buckets that have refilled since: forgetting them changes nothing."""
        refill = rate.burst / rate.per_second
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < refill}


class RateLimiter:
    """The process's limits, shared by the services it hosts (one bucket per key, not per app)."""

    def __init__(self, rates: dict[str, Rate | None]) -> None:
        self.rates = rates
        self.buckets = TokenBuckets()

    def wait_for_address(self, address: str) -> float:
        rate = self.rates.get("address")
        return 0.0 if rate is None else self.buckets.take(f"address:{address}", rate)

    def wait_for_client(self, caller: Principal) -> float:
        rate = self.rates.get(caller.role)
        return 0.0 if rate is None else self.buckets.take(f"client:{caller.client_id}", rate)


def rate_limited(wait: float) -> Problem:
    return Problem(
        429,
        "too many requests; retry after the number of seconds in Retry-After",
        type_="urn:onecard:problem:rate-limited",
        retry_after=max(1, math.ceil(wait)),
    )


@dataclass(frozen=True)
class RouteRules:
    route: BaseRoute  # the route as declared: its `path` is the template the logs and metrics use
    path_regex: re.Pattern[str]
    methods: frozenset[str]
    protected: bool  # needs a credential (the route depends on `principal`)
    max_body: int


def _depends_on_principal(dependant: Dependant) -> bool:
    return any(d.call is principal or _depends_on_principal(d) for d in dependant.dependencies)


def route_rules(app: Any, settings: Settings) -> list[RouteRules]:
    """The app's routes with their paths as served (routers' prefixes included) and the edge's
    rules for each; routes without methods (mounts) are left to the app."""
    table = []
    for context in iter_route_contexts(app.router.routes):
        route, methods, regex = context.original_route, context.methods, getattr(context, "path_regex", None)
        if not methods or regex is None:
            continue
        upload = protected = False
        if isinstance(route, APIRoute):
            upload = bool((route.openapi_extra or {}).get("x-onecard-upload"))
            protected = _depends_on_principal(route.dependant)
        limit = settings.max_upload_bytes if upload else settings.max_body_bytes
        table.append(RouteRules(route, regex, frozenset(methods), protected, limit))
    return table


class Edge:
    """A service's edge: the process's limits and verifier, the service's refusal counter."""

    def __init__(
        self,
        settings: Settings,
        limiter: RateLimiter,
        verifier: TokenVerifier,
        metrics: CollectorRegistry,
        service: str,
    ) -> None:
        self.settings = settings
        self.limiter = limiter
        self.verifier = verifier
        self.service = service
        self.refused = Counter(
            "onecard_http_rate_limited",
            "Requests refused with 429 by a rate limit, by the limit (a role or the address)",
            ["service", "limit"],
            registry=metrics,
        )
        for limit in limiter.rates:  # a series per limit from the start: a panel shows 0, not "No data"
            self.refused.labels(service, limit)


class EdgeGuard:
    """Plain ASGI (no task or stream per request), outside routing: see the module's docstring."""

    def __init__(self, app: Any, edge: Edge) -> None:
        self.app = app
        self.settings = edge.settings
        self.limiter = edge.limiter
        self.verifier = edge.verifier
        self.service = edge.service
        self.refused = edge.refused
        self._tables: dict[int, list[RouteRules]] = {}  # by app: one guard serves one app

    def _match(self, scope: Scope) -> tuple[RouteRules | None, set[str]]:
        """The route serving the request, else the methods the path's routes allow (for 405)."""
        app = scope["app"]  # Starlette puts the app in the scope before its middleware runs
        table = self._tables.get(id(app))
        if table is None:
            table = self._tables[id(app)] = route_rules(app, self.settings)
        path, method = get_route_path(scope), scope["method"]
        allowed: set[str] = set()
        for rules in table:
            if rules.path_regex.match(path):
                if method in rules.methods:
                    return rules, allowed
                allowed |= rules.methods
        return None, allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rules, allowed = self._match(scope)
        if rules is None and allowed:
            await _refuse(
                scope, send, Problem(405, "method not allowed"), {"Allow": ", ".join(sorted(allowed))}
            )
            return
        if rules is not None:
            scope["route"] = rules.route  # its template for the access log and metrics, refused or not
        protected = rules is not None and rules.protected
        max_body = rules.max_body if rules is not None else self.settings.max_body_bytes
        client = scope.get("client")
        if client and (wait := self.limiter.wait_for_address(client[0])):
            self.refused.labels(self.service, "address").inc()
            await _refuse(scope, send, rate_limited(wait))
            return
        if protected:
            try:
                caller = self.verifier.verify(_bearer(scope))
            except Problem as problem:
                await _refuse(scope, send, problem, close=_has_body(scope))
                return
            scope[PRINCIPAL_KEY] = caller
            if wait := self.limiter.wait_for_client(caller):
                self.refused.labels(self.service, caller.role).inc()
                await _refuse(scope, send, rate_limited(wait), close=_has_body(scope))
                return
        if not _has_body(scope):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > max_body:
            await _refuse(scope, send, too_large(max_body), close=True)
            return
        body = await self._read_body(receive, max_body)
        if isinstance(body, Problem):
            await _refuse(scope, send, body, close=True)
            return
        if body is None:
            return  # the client went away
        await self.app(
            scope, replay({"type": "http.request", "body": body, "more_body": False}, receive), send
        )

    async def _read_body(self, receive: Receive, limit: int) -> bytes | Problem | None:
        """The whole body, or the problem that ends reading it: each piece must arrive within the
        read timeout, the whole within six of them; bytes past `limit` are never kept."""
        timeout = self.settings.read_timeout_seconds
        deadline = time.monotonic() + 6 * timeout
        pieces: list[bytes] = []
        size = 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), min(timeout, deadline - time.monotonic()))
            except TimeoutError:
                return Problem(
                    408,
                    f"the request body did not arrive in time (read timeout {timeout:g} s)",
                    type_="urn:onecard:problem:request-timeout",
                )
            if message["type"] == "http.disconnect":
                return None
            piece = message.get("body", b"")
            size += len(piece)
            if size > limit:
                return too_large(limit)
            pieces.append(piece)
            if not message.get("more_body", False):
                return b"".join(pieces)


def too_large(limit: int) -> Problem:
    return Problem(
        413,
        f"the request body is larger than this route accepts ({limit} bytes)",
        type_="urn:onecard:problem:too-large",
        max_bytes=limit,
    )


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


def _bearer(scope: Scope) -> str:
    scheme, _, token = (_header(scope, b"authorization") or b"").decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Problem(401, "a bearer token is required")
    return token.strip()


def _content_length(scope: Scope) -> int | None:
    value = _header(scope, b"content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _has_body(scope: Scope) -> bool:
    if _header(scope, b"transfer-encoding") is not None:
        return True
    declared = _content_length(scope)
    return declared is not None and declared > 0


def replay(first: Message, receive: Receive) -> Receive:
    """`receive` that gives `first` (a message already read: the body) as the app's first
    message, then the connection's (a disconnect)."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return first

    return replayed


async def _refuse(
    scope: Scope, send: Send, problem: Problem, headers: dict[str, str] | None = None, *, close: bool = False
) -> None:
    response = problem_response(problem, headers)
    if close:  # the rest of the body is never read: the connection cannot carry another request
        response.headers["connection"] = "close"

    async def nothing() -> Message:
        return {"type": "http.disconnect"}

    await response(scope, nothing, send)


def problem_bytes(status: int, detail: str) -> bytes:
    """A whole HTTP/1.1 problem+json response that closes the connection, for the server layer
    (before any ASGI app runs)."""
    problem = Problem(status, detail)
    body = json.dumps(problem.body()).encode()
    reason = problem.title.encode()
    return b"".join(
        [
            b"HTTP/1.1 %d %s\r\n" % (status, reason),
            b"content-type: " + PROBLEM_JSON.encode() + b"\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
    )


class _HeadWithBody:
    """A response's transport that holds its first write (the status line and headers) until the
    body's first piece, or the loop's next turn: a small answer is one write (one system call,
    one packet) instead of two. The bytes and their order are uvicorn's."""

    __slots__ = ("_first", "_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._held: bytes | None = None
        self._first = True

    def write(self, data: bytes) -> None:
        if self._first:
            self._first, self._held = False, data
            self._loop.call_soon(self._flush)
            return
        if self._held is not None:
            data, self._held = self._held + data, None
        self._transport.write(data)

    def _flush(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            self._transport.write(held)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()


class _HeadRefused(Exception):
    """Raised from a parser callback: httptools turns it into a parser error."""


class EdgeHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the edge's limits on the request head (see the module).
    A class at module level, its limits read from the environment once per process: uvicorn's
    worker processes get the class by reference."""

    _limits: tuple[int, int, float] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if EdgeHttpProtocol._limits is None:
            from .settings import Settings

            settings = Settings.from_env()
            EdgeHttpProtocol._limits = (
                settings.max_url_bytes,
                settings.max_header_bytes,
                settings.read_timeout_seconds,
            )
        self.max_url, self.max_header, self.read_timeout = EdgeHttpProtocol._limits
        self._refusal: tuple[int, str] | None = None
        self._header_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()  # a connection that never sends a request is dropped too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._refusal = None
        self._header_bytes = 0
        self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.max_url:
            self._refusal = (414, f"the URL is longer than {self.max_url} bytes")
            raise _HeadRefused

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > self.max_header:
            self._refusal = (431, f"the request headers are larger than {self.max_header} bytes")
            raise _HeadRefused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm_head_timer()
        before = self.cycle
        super().on_headers_complete()
        if self.cycle is not None and self.cycle is not before:
            self.cycle.transport = _HeadWithBody(self.transport, self.loop)  # type: ignore[assignment]

    def send_400_response(self, msg: str) -> None:
        self._disarm_head_timer()
        status, detail = self._refusal or (400, "the request is not valid HTTP/1.1")
        self.transport.write(problem_bytes(status, detail))
        self.transport.close()

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self.loop.call_later(self.read_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered: its body's timeout is the guard's
        if not self.transport.is_closing():
            if getattr(self, "url", None) or getattr(self, "headers", None):
                self.transport.write(
                    problem_bytes(408, f"the request head did not arrive in {self.read_timeout:g} s")
                )
            self.transport.close()

"""How fresh a service's views of other services are, and the waits that make them fresh enough.

Two waits, both bounded by `ONECARD_CONSISTENCY_WAIT_MS` and both only on paths that need them:
- `cover(marks)`: a request that sent `Onecard-Consistency` tokens is handled once every view that
  reads the named services has applied those writes;
- `catch_up(service)`: before a refusal (or a 404) that rests on a view of `service`, the view
  first applies everything the service had when the request arrived: its store's head (embedded)
  or its topic's end offsets (distributed). Accepted requests never call it.
Past the bound both raise 503 with `Retry-After`: the view is behind, the request is not wrong.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any, TypeVar

from onecard_events import consistency
from onecard_events.checkpoint import Checkpoint
from onecard_events.consistency import Mark
from onecard_events.model import Position
from onecard_events.subscription import ProjectionRunner

from .problems import Problem, problem_response, unavailable

T = TypeVar("T")


class ViewFreshness:
    def __init__(self, service: str, runners: Sequence[ProjectionRunner], wait_seconds: float) -> None:
        self.service = service
        self.runners = runners  # the runtime's list: views added later are included
        self.wait_seconds = wait_seconds
        # One head look-up at a time per (view, service); a request reuses one that started after
        # it arrived, so a burst of refusals asks the broker once.
        self._heads: dict[tuple[str, str], tuple[float, asyncio.Task[dict[str, Checkpoint]]]] = {}

    def _readers(self, service: str) -> list[ProjectionRunner]:
        return [r for r in self.runners if r.source.reads(service)]

    async def cover(self, marks: Sequence[Mark]) -> None:
        """Return once every view reading a marked service has applied the marks."""
        deadline = time.monotonic() + self.wait_seconds
        arrived = time.monotonic()
        for mark in marks:
            for runner in self._readers(mark.service):
                target = runner.source.mark_target(mark)
                targets = (
                    dict([target]) if target is not None else await self._head(runner, mark.service, arrived)
                )
                if not await runner.reach(targets, deadline):
                    raise self._behind(runner, mark.service)

    async def catch_up(self, service: str) -> None:
        """Return once every view of `service` has applied what the service held on arrival."""
        arrived = time.monotonic()
        deadline = arrived + self.wait_seconds
        for runner in self._readers(service):
            if not await runner.reach(await self._head(runner, service, arrived), deadline):
                raise self._behind(runner, service)

    async def read(
        self,
        service: str,
        read: Callable[[], Awaitable[T]],
        ok: Callable[[T], bool] = lambda value: value is not None,
    ) -> T:
        """`read()` from a view of `service`; when what it gives would be refused (`ok` false:
        by default None, "unknown"), read again once the view has caught up (503 past the
        bound). The accepted path reads once and waits for nothing."""
        value = await read()
        if ok(value):
            return value
        await self.catch_up(service)
        return await read()

    async def _head(self, runner: ProjectionRunner, service: str, arrived: float) -> dict[str, Checkpoint]:
        key = (runner.projection.name, service)
        known = self._heads.get(key)
        if known is None or known[0] < arrived or (known[1].done() and known[1].exception() is not None):
            known = (time.monotonic(), asyncio.ensure_future(runner.source.head(service)))
            self._heads[key] = known
        try:
            return await asyncio.shield(known[1])
        except Exception as exc:
            raise unavailable(f"cannot tell how far {service}'s events go: {type(exc).__name__}") from exc

    def _behind(self, runner: ProjectionRunner, service: str) -> Problem:
        return unavailable(
            f"{self.service}'s view {runner.projection.name} has not caught up with {service} "
            f"within {self.wait_seconds:g} s; retry shortly"
        )


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_HEADER = consistency.HEADER.lower().encode()


class ConsistencyMiddleware:
    """`Onecard-Consistency` on the wire (plain ASGI: nothing is buffered or copied).

    Tokens in a request are covered before the app sees it (400 when malformed, 503 past the
    bound). A write answered 2xx gets a token naming what it committed: its streams' marks, or,
    when it committed nothing (a replay), the last position this process committed. With
    `published` set (distributed mode, services whose events others check against), the answer
    also waits, briefly, until the relay has put those events on Kafka: then "at the topic's end"
    includes this write, for a client that sends no token.
    """

    def __init__(
        self,
        app: ASGIApp,
        service: str,
        freshness: ViewFreshness,
        last_committed: Callable[[], Position],
        published: Callable[[Position], Awaitable[None]] | None = None,
    ) -> None:
        self.app = app
        self.service = service
        self.freshness = freshness
        self.last_committed = last_committed
        self.published = published

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = [v.decode("latin-1") for k, v in scope.get("headers", ()) if k == _HEADER]
        if sent:
            try:
                await self.freshness.cover(consistency.decode(sent))
            except consistency.MalformedMark as exc:
                await _send_problem(send, invalid_header(str(exc)))
                return
            except Problem as problem:
                await _send_problem(send, problem)
                return
        if scope["method"] not in _WRITES:
            if sent:
                with consistency.covering():
                    await self.app(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        written = consistency.collect()

        async def send_with_token(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300:
                marks = written.marks or [Mark(self.service, self.last_committed())]
                if self.published is not None and written.marks and not written.early:
                    await self.published(max(m.position for m in written.marks))
                message["headers"] = [
                    *message.get("headers", ()),
                    (_HEADER, consistency.encode(marks).encode()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_token)


def invalid_header(detail: str) -> Problem:
    return Problem(400, detail, type_="urn:onecard:problem:bad-consistency-token")


async def _send_problem(send: Send, problem: Problem) -> None:
    response = problem_response(problem)
    await send(
        {
            "type": "http.response.start",
            "status": response.status_code,
            "headers": response.raw_headers,
        }
    )
    await send({"type": "http.response.body", "body": response.body})

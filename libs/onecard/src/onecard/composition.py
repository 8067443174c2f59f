"""Builds the services for one process: all five (embedded) or one (distributed)."""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

from onecard_contracts.code_uses import SharedCodeUses
from onecard_events.topology import SERVICES
from onecard_service.platform import Platform, ServiceRuntime

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def build_services(platform: Platform, names: Sequence[str] = SERVICES) -> list[ServiceRuntime]:
    runtimes = []
    if platform.embedded and platform.code_uses is None:
        # Identity and payments in one process: an e-card code is claimed by the first of them,
        # even when fired at both at once (docs/adr/0012). Distributed, each learns the other's
        # uses from its events, within the projection's lag.
        platform.code_uses = SharedCodeUses()
    for name in names:
        if name not in SERVICES:
            raise SystemExit(f"unknown service {name!r}; choose from {', '.join(SERVICES)}")
        bootstrap = importlib.import_module(f"onecard_{name}.bootstrap")
        runtimes.append(bootstrap.build(platform))
    return runtimes


class PrefixDispatcher:
    """One ASGI app serving several services, each under its own URL prefix.

    Each service's FastAPI app already routes its full paths (`/catalog/v1/...`), so dispatching
    only picks the app by the first path segment; the process's lifespan starts and stops them all.
    """

    def __init__(self, runtimes: Sequence[ServiceRuntime], *, migrate: bool) -> None:
        self.runtimes = list(runtimes)
        self.by_prefix = {r.name: r.app for r in runtimes}
        self.migrate = migrate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        segment = scope.get("path", "/").lstrip("/").split("/", 1)[0]
        app = self.by_prefix.get(segment)
        if app is None:
            await _not_found(scope, send, list(self.by_prefix))
            return
        await app(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await start_all(self.runtimes, migrate=self.migrate)
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    raise
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await stop_all(self.runtimes)
                await send({"type": "lifespan.shutdown.complete"})
                return


async def start_all(runtimes: Sequence[ServiceRuntime], *, migrate: bool) -> None:
    """Start the services one by one, in the given order (the catalog first: it seeds the
    catalogue the others' views apply). Alembic's context is process-global, so migrations
    cannot overlap anyway, and overlapping the rest measured slower, not faster."""
    for runtime in runtimes:
        await runtime.start(migrate=migrate)


async def stop_all(runtimes: Sequence[ServiceRuntime]) -> None:
    """Stop every service's workers side by side, then close what they share."""
    await asyncio.gather(*(runtime.stop() for runtime in runtimes))
    if runtimes:
        await runtimes[0].platform.close()


async def _not_found(scope: Scope, send: Send, prefixes: list[str]) -> None:
    if scope["type"] != "http":
        return
    body = (
        '{"type":"urn:onecard:problem:not-found","title":"Not found","status":404,'
        f'"detail":"no service serves this path; prefixes: {", ".join("/" + p for p in prefixes)}"}}'
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

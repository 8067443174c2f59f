"""Builds the services for one process: all five (embedded) or one (distributed)."""

from __future__ import annotations

import asyncio
import gc
import importlib
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Any

from onecard_contracts.code_uses import SharedCodeUses
from onecard_events.topology import SERVICES
from onecard_service.platform import Platform, ServiceRuntime

log = logging.getLogger(__name__)
ZONE = "/catalog/zone/"  # the public service zone (CONTRACT.md, Pages)
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

    def __init__(
        self,
        runtimes: Sequence[ServiceRuntime],
        *,
        migrate: bool,
        on_ready: Callable[[float], None] | None = None,
    ) -> None:
        self.runtimes = list(runtimes)
        self.by_prefix = {r.name: r.app for r in runtimes}
        self.migrate = migrate
        # Told once, with the seconds since the process started, when every service is ready.
        self.on_ready = on_ready
        self._announcing: asyncio.Task[None] | None = None

    async def readiness(self) -> tuple[int, dict[str, Any]]:
        """Ready when every service is: what `GET /readyz` answers for the whole process."""
        answers = {r.name: await r.readiness() for r in self.runtimes}
        status = 200 if all(code == 200 for code, _ in answers.values()) else 503
        return status, {
            "status": "ready" if status == 200 else "not ready",
            "services": {name: body for name, (_, body) in answers.items()},
        }

    async def _announce_when_ready(self) -> None:
        while True:
            if (await self.readiness())[0] == 200:
                break
            await asyncio.sleep(0.02)  # readiness is a state of five runtimes, polled cheaply
        since_start = time.time() - process_started_at()
        log.info("all %d services ready, %.2f s after the process started", len(self.runtimes), since_start)
        if self.on_ready is not None:
            self.on_ready(since_start)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        segment = scope.get("path", "/").lstrip("/").split("/", 1)[0]
        if segment == "readyz" and scope["type"] == "http":
            status, body = await self.readiness()
            await _json(send, status, json.dumps(body).encode())
            return
        if segment == "" and scope["type"] == "http" and "catalog" in self.by_prefix:
            await _redirect(send, ZONE)  # the contract: in the embedded default / leads to the zone
            return
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
                self._announcing = asyncio.ensure_future(self._announce_when_ready())
            elif message["type"] == "lifespan.shutdown":
                if self._announcing is not None:
                    self._announcing.cancel()
                await stop_all(self.runtimes)
                await send({"type": "lifespan.shutdown.complete"})
                return


async def start_all(runtimes: Sequence[ServiceRuntime], *, migrate: bool) -> None:
    """Migrate every service, then start them one by one, in the given order (the catalog first:
    it seeds the catalogue the others' views apply). All tables exist before any worker runs: in
    the embedded mode a projection reads a peer's event log, which a later service's migration
    would otherwise create only after the projection's first read failed. Alembic's context is
    process-global, so migrations cannot overlap anyway, and overlapping the rest measured
    slower, not faster."""
    if migrate:
        for runtime in runtimes:
            await runtime.migrate()
    for runtime in runtimes:
        await runtime.start(migrate=False)
    # What start-up built (modules, routes, pools, caches) lives as long as the process: out of
    # the garbage collector's generations, its full passes, which pause the event loop, walk only
    # what requests made since (issue 15).
    gc.freeze()


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
    await _json(send, 404, body, b"application/problem+json")


async def _redirect(send: Send, location: str) -> None:
    headers = [(b"location", location.encode()), (b"content-length", b"0")]
    await send({"type": "http.response.start", "status": 307, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


async def _json(send: Send, status: int, body: bytes, media_type: bytes = b"application/json") -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", media_type), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def process_started_at() -> float:
    """When this process started (epoch seconds), from /proc; now where /proc is missing."""
    try:
        stat = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(stat[19])  # field 22, starttime, in clock ticks since boot
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime")
        )
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, StopIteration, IndexError):
        return time.time()

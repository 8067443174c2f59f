"""An in-process ASGI app served on a real loopback port (uvicorn), for clients that must reach it
over TCP: the reference offline validator, behind a `faults.LinkCut` that can be cut."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from tests.support.ports import free_port


@asynccontextmanager
async def served_on_port(app: Any) -> AsyncIterator[int]:
    """Serve `app` (its lifespan is the caller's) on a free port; yields the port."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await task

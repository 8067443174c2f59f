"""Waiting for asynchronous outcomes (projections, consumers, processes starting)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


async def eventually(
    check: Callable[[], Awaitable[Any]], timeout: float = 15.0, interval: float = 0.1, what: str = ""
) -> Any:
    """Poll an async `check` until it returns a truthy value, and return that value.

    Raises AssertionError (naming `what`, when given) once `timeout` seconds have passed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            subject = f"{what}: " if what else ""
            raise AssertionError(f"{subject}condition not met within {timeout}s (last: {result!r})")
        await asyncio.sleep(interval)

"""Workers sleep until told to stop, nudged by new work, or a poll interval passes."""

from __future__ import annotations

import asyncio


async def wait_for_either(stop: asyncio.Event, nudge: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(nudge.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()

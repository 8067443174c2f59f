"""Sleeping that ends early: when a worker is told to stop, or when something it waits for happens."""

from __future__ import annotations

import asyncio
import contextlib


class Signal:
    """A wake-up for any number of waiters: `fire()` wakes everyone waiting at that moment."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> bool:
        """Whether the signal fired within `timeout` seconds."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        return True


async def wait_any(signals: list[Signal], timeout: float) -> None:
    """Until one of `signals` fires, or `timeout` seconds."""
    waits = [asyncio.ensure_future(s.wait(timeout)) for s in signals]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)

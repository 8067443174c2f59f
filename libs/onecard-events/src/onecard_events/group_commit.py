"""Group commit: many concurrent requests' writes in one transaction.

A request hands its write to `GroupCommit.submit` and awaits its own result. Flushers take
everything queued (up to `max_batch`) and give it to `write`, which makes one transaction of the
batch and returns one result (or exception) per item, in order. A commit costs about the same for
one write as for two hundred, so the commits per second, not the requests, are what the database
sees; and while one flusher commits, the next batch gathers.

`write` raising fails every item of its batch with that exception (the transaction rolled back).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass
class _Queued(Generic[Item, Result]):
    item: Item
    done: asyncio.Future[Result] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass(frozen=True)
class Batching:
    """How a group commit gathers: at most `max_batch` writes a transaction, `flushers`
    transactions at once; a lone write waits `linger` seconds for company when no flush is
    under way (while one runs, the queue fills by itself)."""

    max_batch: int = 500
    flushers: int = 2
    linger: float = 0.001


class GroupCommit(Generic[Item, Result]):
    def __init__(
        self,
        name: str,
        write: Callable[[Sequence[Item]], Awaitable[Sequence[Result | BaseException]]],
        batching: Batching = Batching(),
    ) -> None:
        self.name, self.write, self.batching = name, write, batching
        self._queue: list[_Queued[Item, Result]] = []
        self._wake = asyncio.Event()
        self._running = False
        self._busy = 0
        # Batches and items written: a batch of one per item means nothing was grouped.
        self.batches = self.written = 0

    async def submit(self, item: Item) -> Result:
        queued: _Queued[Item, Result] = _Queued(item)
        if self._running:
            self._queue.append(queued)
            self._wake.set()
        else:
            # No flushers (not started, or shutting down): this write goes on its own.
            await self._flush([queued])
        return await queued.done

    async def run(self, stop: asyncio.Event) -> None:
        """The flushers, as a service worker: until `stop`, then what is queued is written."""
        self._running = True
        flushers = [asyncio.ensure_future(self._flush_loop()) for _ in range(self.batching.flushers)]
        try:
            await stop.wait()
        finally:
            self._running = False
            self._wake.set()
            await asyncio.gather(*flushers)

    async def _flush_loop(self) -> None:
        while True:
            while not self._queue:
                if not self._running:
                    return
                self._wake.clear()
                await self._wake.wait()
            gather = self.batching
            if self._running and not self._busy and len(self._queue) < gather.max_batch and gather.linger:
                await asyncio.sleep(gather.linger)
            batch = self._take_batch()
            if self._queue:
                self._wake.set()  # more than one batch's worth: another flusher takes the rest
            self._busy += 1
            try:
                await self._flush(batch)
            finally:
                self._busy -= 1

    def _take_batch(self) -> list[_Queued[Item, Result]]:
        size = self.batching.max_batch
        batch, self._queue = self._queue[:size], self._queue[size:]
        return batch

    async def _flush(self, batch: list[_Queued[Item, Result]]) -> None:
        if not batch:
            return
        failed = False
        try:
            results = await self.write([q.item for q in batch])
        except Exception as exc:
            log.warning("%s: a batch of %d failed: %r", self.name, len(batch), exc)
            results, failed = [exc] * len(batch), True
        self.batches += 1
        self.written += len(batch)
        for queued, result in zip(batch, results, strict=True):
            if queued.done.done():
                continue  # the request gave up (cancelled)
            if isinstance(result, BaseException):
                queued.done.set_exception(result)
            else:
                queued.done.set_result(result)
        if failed:
            await asyncio.sleep(0.05)  # a failing database: answered, but do not spin

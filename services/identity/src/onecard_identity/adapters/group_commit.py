"""Group commit for the verification hot path.

Each verification must be durably recorded (its event, and the e-card code's nonce) before the
venue gets its answer. One transaction per request would make the commit the bottleneck, so
requests enqueue their write and await a future; flushers take whatever has queued up (up to
`max_batch`) and write it in one transaction: one nonce INSERT, one event INSERT, one commit.
A lone request waits at most `linger` (3 ms) for company.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from onecard_events.database import Database
from onecard_events.model import NewEvent
from onecard_events.store import EventStore, StreamAppend

from ..domain.events import VerificationRecorded
from .queries import consume_nonces

log = logging.getLogger(__name__)


@dataclass
class PendingWrite:
    event: VerificationRecorded
    nonce: str | None
    nonce_expires_at: int | None
    done: asyncio.Future[VerificationRecorded] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


def _replayed(event: VerificationRecorded) -> VerificationRecorded:
    return event.model_copy(update={"verified": False, "reason": "qr_reused"})


class GroupCommitter:
    def __init__(
        self,
        db: Database,
        store: EventStore,
        *,
        max_batch: int = 256,
        flushers: int = 2,
        linger: float = 0.003,
    ) -> None:
        self.db = db
        # Once a write is waiting, gather more for a few ms: a commit costs the same for 1 or 200.
        self.linger = linger
        self.store = store
        self.max_batch = max_batch
        # SQLite has one writer at a time: a second flusher would only wait on the file lock.
        self.flushers = flushers if db.is_postgres else 1
        self._queue: asyncio.Queue[PendingWrite] = asyncio.Queue()
        self._running = 0

    async def submit(
        self, event: VerificationRecorded, nonce: str | None = None, nonce_expires_at: int | None = None
    ) -> VerificationRecorded:
        """The event as recorded (a replayed code turns into a `qr_reused` refusal)."""
        pending = PendingWrite(event, nonce, nonce_expires_at)
        if not self._running:
            # No worker (not started, or shutting down): write this one on its own.
            await self._flush([pending])
        else:
            self._queue.put_nowait(pending)
        return await pending.done

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(*(self._flush_loop(stop) for _ in range(self.flushers)))

    async def _flush_loop(self, stop: asyncio.Event) -> None:
        self._running += 1
        try:
            while not stop.is_set():
                batch = await self._take(stop)
                if batch:
                    await self._flush(batch)
        finally:
            self._running -= 1
            if not self._running:
                await self._drain()

    async def _take(self, stop: asyncio.Event) -> list[PendingWrite]:
        if self._queue.empty():
            getter = asyncio.ensure_future(self._queue.get())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if not getter.done():
                getter.cancel()
                return []
            batch = [getter.result()]
        else:
            batch = []
        if self._queue.qsize() + len(batch) < self.max_batch and self.linger:
            await asyncio.sleep(self.linger)
        while len(batch) < self.max_batch and not self._queue.empty():
            batch.append(self._queue.get_nowait())
        return batch

    async def _drain(self) -> None:
        while not self._queue.empty():
            batch = [self._queue.get_nowait() for _ in range(min(self.max_batch, self._queue.qsize()))]
            await self._flush(batch)

    async def _flush(self, batch: list[PendingWrite]) -> None:
        try:
            final = await self._write(batch)
        except Exception as exc:
            log.exception("recording %d verifications failed", len(batch))
            for pending in batch:
                if not pending.done.done():
                    pending.done.set_exception(exc)
            await asyncio.sleep(0.05)  # a failing database: do not spin
            return
        for pending, event in zip(batch, final, strict=True):
            if not pending.done.done():
                pending.done.set_result(event)

    async def _write(self, batch: list[PendingWrite]) -> list[VerificationRecorded]:
        wanted = {
            p.nonce: {"nonce": p.nonce, "expires_at": datetime.fromtimestamp(p.nonce_expires_at or 0, UTC)}
            for p in batch
            if p.nonce is not None
        }
        async with self.db.engine.begin() as conn:
            fresh = await consume_nonces(conn, list(wanted.values()))
            final: list[VerificationRecorded] = []
            for pending in batch:
                event = pending.event
                if pending.nonce is not None:
                    if pending.nonce in fresh:
                        fresh.discard(pending.nonce)  # the first in the batch has it; later ones replay
                    else:
                        event = _replayed(event)
                final.append(event)
            await self.store.append_batch(
                conn,
                [
                    StreamAppend(
                        f"verification-{e.verification_id}", [NewEvent(e, event_id=e.verification_id)]
                    )
                    for e in final
                ],
            )
        return final

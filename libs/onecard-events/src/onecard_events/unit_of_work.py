"""The unit of work: one transaction that loads aggregates, saves what they recorded, and says
where in the store's order the commit landed.

    async with store.unit_of_work() as uow:
        bill = await uow.get(f"bill-{bill_id}", Bill(bill_id))
        bill.pay(...)                       # records payment_initiated on the aggregate
        await rows.insert_payment(uow.connection, ...)   # read-model writes, same transaction
        position = await uow.save()         # appends at the loaded versions and commits

Leaving the block without `save()` rolls everything back; an exception inside it does too. A
stream that moved on since it was loaded raises `ConcurrencyError` from `save()` (HTTP 409, or a
retry by the handler). `record()` appends events that belong to no loaded aggregate (a batch of
verifications, an idempotent intake whose event ids are derived from the command).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from . import consistency
from .aggregate import Aggregate
from .model import DomainEvent, NewEvent, Position, RecordedEvent

if TYPE_CHECKING:
    from .store import EventStore, StreamAppend

A = TypeVar("A", bound=Aggregate)


class UnitOfWork:
    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._conn: AsyncConnection | None = None
        self._seen: dict[str, Aggregate] = {}
        self._loose: list[StreamAppend] = []
        self.recorded: list[RecordedEvent] = []
        self.position: Position | None = None
        self._committed = False

    async def __aenter__(self) -> UnitOfWork:
        self._conn = await self.store.db.engine.connect()
        await self._conn.begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if not self._committed and conn.in_transaction():
                await conn.rollback()
        finally:
            await conn.close()

    @property
    def connection(self) -> AsyncConnection:
        """The transaction's connection, for read-model writes and the idempotency record."""
        if self._conn is None:
            raise RuntimeError("the unit of work is not open (use `async with`)")
        return self._conn

    async def get(self, stream_id: str, fresh: A) -> A:
        """`fresh` (an empty aggregate) folded with the stream's events, tracked for `save()`.
        A stream with no events gives `fresh` at version 0: a new aggregate."""
        if stream_id in self._seen:
            return self._seen[stream_id]  # type: ignore[return-value]
        history, version = await self.store.load(self.connection, stream_id)
        aggregate = fresh.replay(history, version)
        self._seen[stream_id] = aggregate
        return aggregate

    async def get_many(self, fresh: dict[str, A]) -> dict[str, A]:
        """`get` of several streams (stream id -> empty aggregate) in one query."""
        wanted = [s for s in fresh if s not in self._seen]
        loaded = await self.store.load_many(self.connection, wanted)
        for stream_id in wanted:
            history, version = loaded.get(stream_id, ([], 0))
            self._seen[stream_id] = fresh[stream_id].replay(history, version)
        return {s: self._seen[s] for s in fresh}  # type: ignore[misc]

    def add(self, stream_id: str, aggregate: Aggregate) -> None:
        """Track a new aggregate (its stream must not exist yet)."""
        self._seen[stream_id] = aggregate

    def record(
        self,
        stream_id: str,
        events: Sequence[NewEvent | DomainEvent],
        expected_version: int | None = None,
    ) -> None:
        """Append `events` to a stream at `save()`, outside any tracked aggregate."""
        from .store import StreamAppend

        self._loose.append(StreamAppend(stream_id, list(events), expected_version))

    async def flush(self) -> list[RecordedEvent]:
        """Append what is pending now, without committing: for read models built from the
        recorded events (positions, stored ids) inside the same transaction."""
        from .store import StreamAppend

        appends: list[StreamAppend] = []
        for stream_id, aggregate in self._seen.items():
            events = aggregate.collect_events()
            if events:
                appends.append(StreamAppend(stream_id, events, aggregate.version))
                object.__setattr__(aggregate, "version", aggregate.version + len(events))
        appends += self._loose
        self._loose = []
        if not appends:
            return []
        recorded = await self.store.append_batch(self.connection, appends)
        self.recorded += recorded
        return recorded

    async def save(self) -> Position | None:
        """Append every pending event at its expected version and commit. Returns the store
        position of the commit (None when it recorded nothing, e.g. a replayed command)."""
        await self.flush()
        await self.connection.commit()
        self._committed = True
        self.store.committed()
        if self.recorded:
            self.position = max(r.position for r in self.recorded)
            self.store.last_committed = max(self.store.last_committed, self.position)
            consistency.note_recorded(self.store.source, self.recorded)
        return self.position

"""The append-only event store of one service.

Streams use expected-version optimistic concurrency; the event id makes an append idempotent;
`read_all` gives every subscriber the same gap-free global order (see docs/adr/0002).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry import propagate, trace
from prometheus_client import CollectorRegistry, Histogram
from sqlalchemy import String, any_, bindparam, func, literal_column, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from .database import Database
from .metrics import per_service
from .model import DomainEvent, NewEvent, Position, RecordedEvent, utcnow
from .registry import EventRegistry
from .tables import events
from .times import aware
from .unit_of_work import UnitOfWork
from .waiting import Signal

YIELD_AFTER_S = 0.005
"""How long an append may keep the event loop before it lets other requests run."""

NO_STREAM = 0
"""Expected version of a stream that must not exist yet."""


class ConcurrencyError(Exception):
    """The stream moved on since it was read: reload and decide again (HTTP 409)."""

    def __init__(self, stream_id: str, expected: int | None) -> None:
        super().__init__(f"stream {stream_id!r} is not at version {expected}")
        self.stream_id = stream_id
        self.expected = expected


@dataclass(frozen=True)
class StreamAppend:
    """Events for one stream; `expected_version` None means "whatever the stream holds"."""

    stream_id: str
    events: Sequence[NewEvent | DomainEvent]
    expected_version: int | None = NO_STREAM


def _as_new(event: NewEvent | DomainEvent) -> NewEvent:
    return event if isinstance(event, NewEvent) else NewEvent(event)


def _trace_metadata() -> dict[str, str]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


_tracer = trace.get_tracer("onecard")


def tracing_enabled() -> bool:
    """False while no SDK tracer provider is installed: span work is skipped altogether then."""
    return not isinstance(trace.get_tracer_provider(), (trace.NoOpTracerProvider, trace.ProxyTracerProvider))


def _event_links(carriers: Sequence[Any]) -> list[trace.Link]:
    """Links to the distinct trace contexts events carry in their own metadata (a batched writer,
    such as a group commit, appends on behalf of several requests)."""
    links: list[trace.Link] = []
    seen: set[tuple[int, int]] = set()
    for carrier in carriers:
        if not carrier or "traceparent" not in carrier:
            continue
        ctx = trace.get_current_span(propagate.extract(carrier)).get_span_context()
        if ctx.is_valid and (ctx.trace_id, ctx.span_id) not in seen:
            seen.add((ctx.trace_id, ctx.span_id))
            links.append(trace.Link(ctx))
    return links


class StoreMetrics:
    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.latency = per_service(
            Histogram,
            "onecard_eventstore_append_seconds",
            "Time to write one append (the INSERT, inside the caller's transaction)",
            registry,
            service,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
        )
        self.batch_size = per_service(
            Histogram,
            "onecard_eventstore_append_batch_size",
            "Events written by one append",
            registry,
            service,
            buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000),
        )


class EventStore:
    def __init__(self, db: Database, registry: EventRegistry, source: str) -> None:
        self.db = db
        self.registry = registry
        self.source = source
        self.metrics: StoreMetrics | None = None
        self._postgres = db.is_postgres
        # The newest position this process committed (the unit of work keeps it): a write that
        # recorded nothing (a replay) answers with it as its consistency token.
        self.last_committed = Position()
        # Fired after each unit-of-work commit: this process's readers of the log wake on it.
        self.commit_signal = Signal()
        # Counts this process's appends and unit-of-work commits: a reader of the log that found
        # its end and sees this unchanged knows nothing was written here since (an append
        # committed later by other means is seen at the reader's next periodic look).
        self.writes = 0

    def committed(self) -> None:
        """Wake this process's readers of the log (the unit of work calls it after a commit)."""
        self.writes += 1
        self.commit_signal.fire()

    def unit_of_work(self) -> UnitOfWork:
        """A transaction on this store: `async with store.unit_of_work() as uow: ... await uow.save()`."""
        return UnitOfWork(self)

    # -- writing -----------------------------------------------------------------------------

    async def append(
        self,
        conn: AsyncConnection,
        stream_id: str,
        new_events: Sequence[NewEvent | DomainEvent],
        expected_version: int | None = NO_STREAM,
    ) -> list[RecordedEvent]:
        return await self.append_batch(conn, [StreamAppend(stream_id, new_events, expected_version)])

    async def append_batch(
        self, conn: AsyncConnection, appends: Sequence[StreamAppend]
    ) -> list[RecordedEvent]:
        """Append to several streams in the caller's transaction, as one INSERT.

        Events whose id is already stored are skipped (a retried command is a no-op). A stream
        that is not at its expected version raises ConcurrencyError and nothing is written.

        Traced as the span "eventstore.append" (a child of the caller's span); the events' stored
        `traceparent` is that span's, unless an event brings its own in its metadata.
        """
        if not tracing_enabled():
            return await self._append_batch(conn, appends)
        news = [e for a in appends for e in a.events]
        with _tracer.start_as_current_span(
            "eventstore.append",
            kind=trace.SpanKind.INTERNAL,
            attributes={"onecard.service": self.source, "onecard.events": len(news)},
            links=_event_links([n.metadata for n in news if isinstance(n, NewEvent)]),
        ) as span:
            recorded = await self._append_batch(conn, appends)
            span.set_attribute("onecard.events_written", len(recorded))
            return recorded

    async def _append_batch(
        self, conn: AsyncConnection, appends: Sequence[StreamAppend]
    ) -> list[RecordedEvent]:
        prepared = [(a, [_as_new(e) for e in a.events]) for a in appends]
        ids = [n.event_id for _, news in prepared for n in news]
        if not ids:
            return []
        # Only caller-chosen ids can be stored already; fresh random ones skip the round trip.
        chosen = [n.event_id for _, news in prepared for n in news if not n.fresh_id]
        seen: set[str] = set()
        if chosen:
            if self._postgres:
                # One array parameter, not one per id: batches of tens of thousands stay one query.
                match = events.c.event_id == any_(bindparam("ids", chosen, type_=ARRAY(String)))
            else:
                match = events.c.event_id.in_(chosen)
            seen = set((await conn.execute(select(events.c.event_id).where(match))).scalars())
        trace = _trace_metadata()
        now = utcnow()
        rows: list[dict[str, Any]] = []
        # A large append (a bulk upload's events) serialises for long: give the loop its turn.
        turn = time.perf_counter()
        for append, news in prepared:
            fresh = [n for n in news if n.event_id not in seen]
            if not fresh:
                continue
            version = append.expected_version
            if version is None:
                version = await self.stream_version(conn, append.stream_id)
            for offset, new in enumerate(fresh, start=1):
                rows.append(
                    {
                        "stream_id": append.stream_id,
                        "stream_version": version + offset,
                        "event_id": new.event_id,
                        "event_type": new.event.event_type,
                        "schema_version": new.event.schema_version,
                        "data": new.event.model_dump(mode="json"),
                        "metadata": {**trace, **new.metadata},
                        "recorded_at": now,
                    }
                )
                if time.perf_counter() - turn > YIELD_AFTER_S:
                    await asyncio.sleep(0)
                    turn = time.perf_counter()
        if not rows:
            return []
        statement = events.insert().returning(events.c.position, events.c.tx_id)
        started = time.perf_counter()
        try:
            keys = (await conn.execute(statement, rows)).all()
        except IntegrityError as exc:
            # The transaction is spoilt either way: the caller's command is retried from the start.
            first = rows[0]
            raise ConcurrencyError(first["stream_id"], first["stream_version"] - 1) from exc
        self.writes += 1
        if self.metrics is not None:
            self.metrics.latency.observe(time.perf_counter() - started)
            self.metrics.batch_size.observe(len(rows))
        return [
            RecordedEvent(
                event_id=row["event_id"],
                event_type=row["event_type"],
                schema_version=row["schema_version"],
                stream_id=row["stream_id"],
                stream_version=row["stream_version"],
                position=Position(int(key.tx_id), int(key.position)),
                recorded_at=now,
                data=row["data"],
                metadata=row["metadata"],
                source=self.source,
            )
            for row, key in zip(rows, keys, strict=True)
        ]

    # -- reading -----------------------------------------------------------------------------

    async def stream_version(self, conn: AsyncConnection, stream_id: str) -> int:
        query = select(func.coalesce(func.max(events.c.stream_version), 0)).where(
            events.c.stream_id == stream_id
        )
        return int((await conn.execute(query)).scalar_one())

    async def read_stream(
        self, conn: AsyncConnection, stream_id: str, after_version: int = 0
    ) -> list[RecordedEvent]:
        query = (
            select(events)
            .where(events.c.stream_id == stream_id, events.c.stream_version > after_version)
            .order_by(events.c.stream_version)
        )
        return [self.registry.upcast_record(self._record(r)) for r in (await conn.execute(query)).mappings()]

    async def load_many(
        self, conn: AsyncConnection, stream_ids: Sequence[str]
    ) -> dict[str, tuple[list[DomainEvent], int]]:
        """`load` of several streams in one query (a batch of commands); a stream with no events
        is missing from the result."""
        if not stream_ids:
            return {}
        if self._postgres:
            match = events.c.stream_id == any_(bindparam("streams", list(stream_ids), type_=ARRAY(String)))
        else:
            match = events.c.stream_id.in_(list(stream_ids))
        query = select(events).where(match).order_by(events.c.stream_id, events.c.stream_version)
        loaded: dict[str, tuple[list[DomainEvent], int]] = {}
        for row in (await conn.execute(query)).mappings():
            record = self.registry.upcast_record(self._record(row))
            history, _ = loaded.get(record.stream_id, ([], 0))
            history.append(self.registry.load(record))
            loaded[record.stream_id] = (history, record.stream_version)
        return loaded

    async def load(self, conn: AsyncConnection, stream_id: str) -> tuple[list[DomainEvent], int]:
        """The stream's domain events (upcast to current versions) and its version."""
        records = await self.read_stream(conn, stream_id)
        return [self.registry.load(r) for r in records], (records[-1].stream_version if records else 0)

    async def read_all(self, after: Position, limit: int = 1000) -> list[RecordedEvent]:
        """Events after `after` in the global order, never skipping one that commits later.

        On PostgreSQL only rows of transactions older than every transaction still running are
        returned (tx_id below the snapshot's xmin), so a slow writer holding a lower position
        delays readers instead of being skipped by them.
        """
        query = select(events).where(
            tuple_(events.c.tx_id, events.c.position) > tuple_(after.tx_id, after.position)
        )
        if self._postgres:
            query = query.where(
                events.c.tx_id < literal_column("pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            )
        query = query.order_by(events.c.tx_id, events.c.position).limit(limit)
        async with self.db.reads.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [self._record(r) for r in rows]

    async def head(self) -> Position:
        """The last readable position (for lag figures)."""
        query = select(events.c.tx_id, events.c.position).order_by(
            events.c.tx_id.desc(), events.c.position.desc()
        )
        if self._postgres:
            query = query.where(
                events.c.tx_id < literal_column("pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            )
        async with self.db.reads.connect() as conn:
            row = (await conn.execute(query.limit(1))).first()
        return Position(int(row.tx_id), int(row.position)) if row else Position()

    def _record(self, row: Any) -> RecordedEvent:
        return RecordedEvent(
            event_id=row["event_id"],
            event_type=row["event_type"],
            schema_version=row["schema_version"],
            stream_id=row["stream_id"],
            stream_version=row["stream_version"],
            position=Position(int(row["tx_id"]), int(row["position"])),
            recorded_at=aware(row["recorded_at"]),
            data=row["data"],
            metadata=row["metadata"] or {},
            source=self.source,
        )

"""The outbox relay: committed events from a service's store to its Kafka topic, at least once.

It reads the store in its gap-free order, publishes a batch, waits for the broker's acks, and only
then moves its checkpoint. A crash between the two republishes the tail of the batch; consumers
drop those copies by the CloudEvents `sequence` (see subscription.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field

from opentelemetry import propagate, trace
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .checkpoint import Checkpoint, load_checkpoints, save_checkpoints
from .cloudevents import to_kafka
from .kafka import KafkaPublisher
from .leadership import run_as_leader
from .metrics import per_service
from .model import Position, RecordedEvent
from .store import EventStore, tracing_enabled
from .waiting import Signal

log = logging.getLogger(__name__)
READER = "relay"
SOURCE = "kafka"
_tracer = trace.get_tracer("onecard")


class RelayMetrics:
    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.published = per_service(
            Counter, "onecard_relay_published_events", "Events published to Kafka", registry, service
        )
        self.backlog = per_service(
            Gauge,
            "onecard_relay_backlog_events",
            "Committed events not yet published (last batch read)",
            registry,
            service,
        )
        self.latency = per_service(
            Histogram,
            "onecard_relay_publish_seconds",
            "Time from commit to broker ack",
            registry,
            service,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )


@dataclass
class Relay:
    store: EventStore
    publisher: KafkaPublisher
    topic_for: Callable[[RecordedEvent], str]
    _: KW_ONLY
    batch_size: int = 1000
    # After a batch, or a commit in this process, the next look is this soon; each empty look
    # doubles the pause up to `idle_max` (commits of other processes, e.g. `--workers`, are only
    # seen by looking): an idle service makes 4 queries a second, not 50.
    idle_sleep: float = 0.02
    idle_max: float = 0.25
    metrics: RelayMetrics | None = None
    # Called after every published batch with whether more is waiting (the supervisor's probe).
    on_progress: Callable[[bool], None] | None = None
    _position: Position = field(default_factory=Position, init=False)
    # Set (and replaced) after every published batch: what a write waiting for its publication
    # listens to (`published_past`).
    _progress: Signal = field(default_factory=Signal, init=False)
    leading: bool = field(default=False, init=False)

    @property
    def position(self) -> Position:
        """The store position up to which every event is on Kafka (acknowledged)."""
        return self._position

    async def wait_published(self, position: Position, deadline: float) -> bool:
        """Wait until this relay has published `position`; False when `deadline` (monotonic)
        passes first or when it is not the leading relay (another replica publishes)."""
        while self.leading and self._position < position:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if not await self._progress.wait(remaining):
                return False
        return self._position >= position

    async def load_position(self) -> Position:
        async with self.store.db.reads.connect() as conn:
            cps = await load_checkpoints(conn, READER)
        self._position = cps.get(SOURCE, Checkpoint()).position
        return self._position

    async def measure_backlog(self) -> int:
        """Count (up to a batch) what is committed and not yet published, without publishing: for
        the backlog gauge while Kafka cannot be reached, when `run_once` never gets that far."""
        waiting = len(await self.store.read_all(await self.load_position(), self.batch_size))
        if self.metrics:
            self.metrics.backlog.set(waiting)
        return waiting

    async def run_once(self) -> int:
        """Publish one batch; returns how many events went out."""
        batch = await self.store.read_all(self._position, self.batch_size)
        if not batch:
            if self.metrics:
                self.metrics.backlog.set(0)
            return 0
        if self.metrics:
            self.metrics.backlog.set(len(batch))
        source = self.store.source
        if tracing_enabled():
            await self._publish_traced(batch, source)
        else:
            await self.publisher.publish([(self.topic_for(r), *to_kafka(r, source)) for r in batch])
        last = batch[-1].position
        async with self.store.db.engine.begin() as conn:
            await save_checkpoints(conn, READER, {SOURCE: Checkpoint(last)})
        self._position = last
        self._progress.fire()
        if self.metrics:
            self.metrics.published.inc(len(batch))
            now = time.time()
            for record in batch:
                self.metrics.latency.observe(max(0.0, now - record.recorded_at.timestamp()))
        return len(batch)

    async def _publish_traced(self, batch: list[RecordedEvent], source: str) -> None:
        """Publish with a PRODUCER span per event, a child of the trace context stored with the
        event (its append), ended at the broker's ack; the message carries that span's context."""
        spans: list[trace.Span] = []
        messages = []
        try:
            for record in batch:
                topic = self.topic_for(record)
                span = _tracer.start_span(
                    f"{topic} publish",
                    context=propagate.extract(record.metadata),
                    kind=trace.SpanKind.PRODUCER,
                    attributes={
                        "messaging.system": "kafka",
                        "messaging.operation": "publish",
                        "messaging.destination.name": topic,
                        "messaging.message.id": record.event_id,
                        "onecard.service": source,
                        "onecard.event_type": record.event_type,
                    },
                )
                spans.append(span)
                carrier: dict[str, str] = {}
                propagate.inject(carrier, context=trace.set_span_in_context(span))
                messages.append((topic, *to_kafka(record, source, carrier)))
            await self.publisher.publish(messages)
        except BaseException as exc:
            for span in spans:
                span.record_exception(exc)
                span.set_status(trace.StatusCode.ERROR)
            raise
        finally:
            for span in spans:
                span.end()

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set, as the single active relay of this store.

        An error ends the run: the runtime's supervisor starts a new one on a fresh producer, so
        a producer a broker restart left with poisoned sequence numbers is never reused.
        """
        await run_as_leader(self.store.db, f"relay:{self.store.source}", self._lead, stop)

    async def _lead(self, stop: asyncio.Event) -> None:
        await self.load_position()
        self.leading = True
        try:
            await self._publish_until(stop)
        finally:
            self.leading = False

    async def _publish_until(self, stop: asyncio.Event) -> None:
        pause = self.idle_sleep
        while not stop.is_set():
            sent = await self.run_once()
            if self.on_progress is not None:
                self.on_progress(sent >= self.batch_size)
            if sent >= self.batch_size:
                continue
            pause = self.idle_sleep if sent else min(pause * 2, self.idle_max)
            if await _commit_or_stop(self.store, stop, pause):
                pause = self.idle_sleep


async def _commit_or_stop(store: EventStore, stop: asyncio.Event, seconds: float) -> bool:
    """Wait until this process commits to `store`, `stop` is set, or `seconds`; whether it committed."""
    committed = asyncio.ensure_future(store.commit_signal.wait(seconds))
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({committed, stopping}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
        committed.cancel()
    return committed.done() and not committed.cancelled() and committed.result()

"""One subscription interface, two sources: the stores' logs (embedded) or Kafka topics (distributed).

A projection applies events inside a transaction of its own database and the runner writes the
projection's checkpoints in that same transaction, so a crash either keeps both or neither. Events
at or below a source's checkpoint are dropped: that covers Kafka redelivery and the relay's
republished tails (those carry their store position in the CloudEvents `sequence`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Protocol

from opentelemetry import propagate, trace
from sqlalchemy.ext.asyncio import AsyncConnection

from .checkpoint import Checkpoint, delete_checkpoints, load_checkpoints, save_checkpoints
from .cloudevents import InvalidCloudEvent, from_kafka
from .consistency import Mark, partition_of
from .database import Database
from .leadership import run_as_leader
from .model import Position, RecordedEvent
from .registry import EventRegistry
from .store import EventStore, tracing_enabled
from .waiting import Signal, wait_any

if TYPE_CHECKING:  # aiokafka is imported where a Kafka source starts: the embedded mode never pays for it
    from aiokafka import AIOKafkaConsumer, TopicPartition

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("onecard")


class Delivery(NamedTuple):
    """An event with the source it came from and, from Kafka, its offset there.

    `event` is None for a Kafka message that was rejected as invalid: its offset still counts.
    (A named tuple, not a frozen dataclass: one per message, built several times faster.)
    """

    source: str
    event: RecordedEvent | None
    kafka_offset: int | None = None


class EventSource(Protocol):
    async def start(self, checkpoints: Mapping[str, Checkpoint]) -> None: ...
    async def fetch(self, max_events: int, timeout: float) -> list[Delivery]: ...
    async def stop(self) -> None: ...
    def fully_fetched(self) -> bool:
        """After an empty fetch: whether the source has nothing more to give right now."""
        ...

    def reads(self, service: str) -> bool:
        """Whether this source carries the service's events."""
        ...

    def mark_target(self, mark: Mark) -> tuple[str, Checkpoint] | None:
        """The checkpoint a reader must reach to have applied `mark` (None: only the head tells)."""
        ...

    async def head(self, service: str) -> dict[str, Checkpoint]:
        """The checkpoints a reader must reach to have applied all of the service's events that
        exist now (its store's head; the ends of its topic's partitions)."""
        ...

    async def heads(self) -> dict[str, Checkpoint]:
        """`head` of everything this source reads (after `start`)."""
        ...


class StoreLogSource:
    """Reads the logs of one or more event stores in their gap-free order (embedded mode)."""

    # A SQLite store whose end a reader found, and that this process has not appended to since,
    # is not queried again while its files look untouched (checked every QUIET_RECHECK seconds;
    # another process writing the same file, a tool or a test, changes them), and at least every
    # QUIET_MAX: an idle platform makes no query every 50 ms per view and store.
    QUIET_RECHECK = 1.0
    QUIET_MAX = 30.0

    def __init__(self, stores: Sequence[EventStore], poll_interval: float = 0.05) -> None:
        self.stores = {f"store:{s.source}": s for s in stores}
        self.poll_interval = poll_interval
        self._positions: dict[str, Position] = {}
        self._at_end: dict[str, _AtEnd] = {}

    async def start(self, checkpoints: Mapping[str, Checkpoint]) -> None:
        self._positions = {key: checkpoints.get(key, Checkpoint()).position for key in self.stores}

    async def fetch(self, max_events: int, timeout: float) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while True:
            out: list[Delivery] = []
            for key, store in self.stores.items():
                if self._quiet(key, store):
                    continue
                # Taken before the read: a write during it is not missed.
                writes, files = store.writes, _file_stamp(store)
                batch = await store.read_all(self._positions[key], max_events)
                if len(batch) < max_events and not store.db.is_postgres:
                    now = time.monotonic()
                    self._at_end[key] = _AtEnd(writes, files, now, now)
                if batch:
                    self._positions[key] = batch[-1].position
                    out += [Delivery(key, r) for r in batch]
            now = time.monotonic()
            remaining = deadline - now
            if out or remaining <= 0:
                return out
            # Every store quiet: nothing to poll for until one commits here or a recheck is due
            # (an idle platform does not wake every 50 ms per view).
            quiet_for = [self._quiet_until(k, s) - now for k, s in self.stores.items()]
            pause = min(quiet_for) if all(q > 0 for q in quiet_for) else self.poll_interval
            await self._next_commit(min(max(pause, self.poll_interval), remaining))

    def _quiet_until(self, key: str, store: EventStore) -> float:
        """Until when (monotonic) `store` need not be queried again: 0 when it must be now."""
        at_end = self._at_end.get(key)
        if at_end is None or at_end.writes != store.writes:
            return 0.0
        now = time.monotonic()
        if now < at_end.checked_at + self.QUIET_RECHECK:
            return at_end.checked_at + self.QUIET_RECHECK
        untouched = at_end.files is not None and at_end.files == _file_stamp(store)
        if untouched and now - at_end.read_at < self.QUIET_MAX:
            at_end.checked_at = now
            return now + self.QUIET_RECHECK
        return 0.0

    def _quiet(self, key: str, store: EventStore) -> bool:
        return time.monotonic() < self._quiet_until(key, store)

    async def _next_commit(self, timeout: float) -> None:
        """Sleep until a store commits in this process, or `timeout` (another process's commits
        are only seen by polling)."""
        await wait_any([s.commit_signal for s in self.stores.values()], timeout)

    async def stop(self) -> None:
        return None

    def fully_fetched(self) -> bool:
        return True  # an empty fetch read every store to its head

    def reads(self, service: str) -> bool:
        return f"store:{service}" in self.stores

    def mark_target(self, mark: Mark) -> tuple[str, Checkpoint] | None:
        return f"store:{mark.service}", Checkpoint(mark.position)

    async def head(self, service: str) -> dict[str, Checkpoint]:
        return {f"store:{service}": Checkpoint(await self.stores[f"store:{service}"].head())}

    async def heads(self) -> dict[str, Checkpoint]:
        return {key: Checkpoint(await store.head()) for key, store in self.stores.items()}


@dataclass
class _AtEnd:
    """A store read to its end: this process's write count and its files' stamp then."""

    writes: int
    files: tuple[int, int, int] | None
    read_at: float
    checked_at: float


def _file_stamp(store: EventStore) -> tuple[int, int, int] | None:
    """The SQLite file's modification time and size, and its write-ahead log's size: a commit by
    any process changes one of them (this process's reads change none). None without a file."""
    path = store.db.engine.url.database
    if store.db.is_postgres or not path:
        return None
    try:
        main = os.stat(path)
    except OSError:
        return None
    try:
        wal = os.stat(f"{path}-wal").st_size
    except OSError:
        wal = 0
    return main.st_mtime_ns, main.st_size, wal


class KafkaSource:
    """Reads Kafka topics by explicit assignment of every partition, from offsets the projection
    stored itself (not the broker's consumer-group offsets), so offset and effect commit together.

    Messages that are not valid CloudEvents are handed to `on_invalid` and skipped.
    """

    def __init__(
        self,
        bootstrap: str,
        topics: Sequence[str],
        client_id: str = "onecard-projection",
        on_invalid: InvalidHandler | None = None,
        topic_of: Mapping[str, str] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.topics = list(topics)
        # Service name -> its topic, for consistency marks (which name services).
        self.topic_of = dict(topic_of or {})
        self.client_id = client_id
        self.on_invalid = on_invalid
        self._consumer: AIOKafkaConsumer | None = None
        self._next_offsets: dict[TopicPartition, int] = {}

    async def start(self, checkpoints: Mapping[str, Checkpoint]) -> None:
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            group_id=None,
            max_poll_records=2000,
            fetch_max_bytes=16 * 1024 * 1024,
        )
        await consumer.start()
        try:
            await self._assign(consumer, checkpoints)
        except BaseException:
            # Stopped (cancelled) or failed while starting: leave no consumer behind.
            await consumer.stop()
            raise
        self._consumer = consumer

    async def _assign(self, consumer: AIOKafkaConsumer, checkpoints: Mapping[str, Checkpoint]) -> None:
        from aiokafka import TopicPartition

        partitions: list[TopicPartition] = []
        for topic in self.topics:
            found: set[int] | None = None
            for _ in range(50):
                # A fresh look at the cluster: the consumer's cached metadata only covers topics
                # it was already interested in.
                cluster = await consumer._client.fetch_all_metadata()
                found = cluster.partitions_for_topic(topic)
                if found:
                    break
                await asyncio.sleep(0.1)
            if not found:
                raise RuntimeError(f"topic {topic} does not exist (create topics first)")
            partitions += [TopicPartition(topic, p) for p in sorted(found)]
        consumer.assign(partitions)
        from_start = []
        for tp in partitions:
            cp = checkpoints.get(f"{tp.topic}:{tp.partition}")
            if cp is not None and cp.kafka_offset is not None:
                consumer.seek(tp, cp.kafka_offset + 1)
                self._next_offsets[tp] = cp.kafka_offset + 1
            else:
                from_start.append(tp)
                self._next_offsets[tp] = 0
        if from_start:
            await consumer.seek_to_beginning(*from_start)  # one request for all of them

    async def fetch(self, max_events: int, timeout: float) -> list[Delivery]:
        assert self._consumer is not None, "start() first"
        polled = await self._consumer.getmany(timeout_ms=int(timeout * 1000), max_records=max_events)
        out: list[Delivery] = []
        for tp, messages in polled.items():
            key = f"{tp.topic}:{tp.partition}"
            if messages:
                self._next_offsets[tp] = messages[-1].offset + 1
            for m in messages:
                try:
                    event = from_kafka(m.key, m.value, m.headers)
                except InvalidCloudEvent as exc:
                    if self.on_invalid is not None:
                        await self.on_invalid(tp.topic, m.key, m.value, list(m.headers or []), str(exc))
                    out.append(Delivery(key, None, m.offset))
                    continue
                out.append(Delivery(key, event, m.offset))
        return out

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def end_offsets(self) -> dict[str, int]:
        """Next offset per partition, asked of the broker now."""
        assert self._consumer is not None
        ends = await self._consumer.end_offsets(list(self._consumer.assignment()))
        return {f"{tp.topic}:{tp.partition}": off for tp, off in ends.items()}

    def fully_fetched(self) -> bool:
        """Every assigned partition fetched up to the high-water mark the broker last reported."""
        if self._consumer is None:
            return False
        assigned = self._consumer.assignment()
        return all(self._consumer.highwater(tp) is not None for tp in assigned) and not any(
            self.lag().values()
        )

    def reads(self, service: str) -> bool:
        return self.topic_of.get(service) in self.topics

    def mark_target(self, mark: Mark) -> tuple[str, Checkpoint] | None:
        topic = self.topic_of.get(mark.service)
        if mark.key_hash is None or self._consumer is None or topic is None:
            return None
        partitions = sum(1 for tp in self._consumer.assignment() if tp.topic == topic)
        if not partitions:
            return None
        return f"{topic}:{partition_of(mark.key_hash, partitions)}", Checkpoint(mark.position)

    async def head(self, service: str) -> dict[str, Checkpoint]:
        """The end offsets of the service's topic, asked of the broker now (one request; a
        source that is not reading, e.g. on a standby replica, asks with a consumer of its own)."""
        topic = self.topic_of[service]
        if self._consumer is not None:
            ends = await self._consumer.end_offsets(
                [tp for tp in self._consumer.assignment() if tp.topic == topic]
            )
        else:
            from aiokafka import AIOKafkaConsumer, TopicPartition

            probe = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap, client_id=self.client_id, group_id=None
            )
            await probe.start()
            try:
                found = (await probe._client.fetch_all_metadata()).partitions_for_topic(topic) or set()
                ends = await probe.end_offsets([TopicPartition(topic, p) for p in found])
            finally:
                await probe.stop()
        return {f"{tp.topic}:{tp.partition}": Checkpoint(kafka_offset=end - 1) for tp, end in ends.items()}

    async def heads(self) -> dict[str, Checkpoint]:
        assert self._consumer is not None, "heads() after start()"
        ends = await self._consumer.end_offsets(list(self._consumer.assignment()))
        return {f"{tp.topic}:{tp.partition}": Checkpoint(kafka_offset=end - 1) for tp, end in ends.items()}

    def lag(self) -> dict[tuple[str, int], int]:
        """Messages not yet fetched per partition, from the broker's last reported high-water mark."""
        if self._consumer is None:
            return {}
        out: dict[tuple[str, int], int] = {}
        for tp in self._consumer.assignment():
            high = self._consumer.highwater(tp)
            if high is not None:
                out[(tp.topic, tp.partition)] = max(0, high - self._next_offsets.get(tp, high))
        return out


class InvalidHandler(Protocol):
    async def __call__(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
        reason: str,
    ) -> None: ...


class Projection(Protocol):
    """Something that turns events into rows. `apply` runs inside the runner's transaction.

    A projection may also define `flush(conn)`, called once at the end of each batch before the
    checkpoints are written (for set-based writes of what `apply` collected), `discard()`,
    called when the batch's transaction fails (to drop what it collected), and
    `apply_batch(conn, events)`, called instead of `apply` once per batch with its new events in
    order (a replay's millions of events then cost no coroutine each).
    """

    name: str

    async def apply(self, conn: AsyncConnection, event: RecordedEvent) -> None: ...

    async def reset(self, conn: AsyncConnection) -> None:
        """Drop the projection's rows (for a rebuild)."""
        ...


_NO_CHECKPOINT = Checkpoint()
_UNPLACED = (0, 0)  # Position(): an event that carries no store position is never a redelivery


class ProjectionRunner:
    """Feeds a projection from a source, exactly once in effect."""

    def __init__(
        self,
        projection: Projection,
        source: EventSource,
        db: Database,
        registry: EventRegistry | None = None,
        *,
        batch_size: int = 1000,
        poll_timeout: float = 0.2,
    ) -> None:
        self.projection = projection
        self.source = source
        self.db = db
        self.registry = registry
        self.batch_size = batch_size
        self.poll_timeout = poll_timeout
        self.checkpoints: dict[str, Checkpoint] = {}
        self.last_event_time: float | None = None
        self.applied = 0
        # When a fetch last found nothing new: the read model reflected every event up to then.
        self.caught_up_at: float | None = None
        # Whether the view has applied everything its sources held when this runner started (or
        # another replica keeps it: this one is on standby). What /readyz waits for.
        self.current = False
        # The sources' heads when the runner started: reaching them makes the view current,
        # even while new events keep arriving (a fetch then never comes back empty).
        self._start_heads: dict[str, Checkpoint] | None = None
        self.standby = False
        self.created_at = time.time()
        # Set (and replaced) after every committed batch: what consistency waits listen to.
        self._progress = Signal()

    async def start(self) -> None:
        async with self.db.reads.connect() as conn:
            self.checkpoints = await load_checkpoints(conn, self.projection.name)
        await self.source.start(self.checkpoints)
        try:
            self._start_heads = await self.source.heads()
        except Exception:  # only the empty fetch tells, then
            log.warning("%s: the sources' heads at start are unknown", self.projection.name, exc_info=True)
            self._start_heads = None
        self._note_current()

    async def stop(self) -> None:
        await self.source.stop()

    async def run_once(self, timeout: float | None = None) -> int:
        """Apply one fetched batch in one transaction; returns how many events had an effect."""
        fetched_at = time.time()
        deliveries = await self.source.fetch(
            self.batch_size, self.poll_timeout if timeout is None else timeout
        )
        if not deliveries:
            self.caught_up_at = fetched_at
            if not self.current and self.source.fully_fetched():
                self.current = True
            return 0
        fresh, sources, changed = self._unapplied(deliveries)
        flush = getattr(self.projection, "flush", None)
        apply_batch = getattr(self.projection, "apply_batch", None)
        try:
            async with self.db.engine.begin() as conn:
                if tracing_enabled():
                    for event, source in zip(fresh, sources, strict=True):
                        await self._apply_traced(conn, event, source)
                elif apply_batch is not None:
                    await apply_batch(conn, fresh)
                else:
                    apply = self.projection.apply
                    for event in fresh:
                        await apply(conn, event)
                if flush is not None:
                    await flush(conn)
                await save_checkpoints(conn, self.projection.name, changed)
        except BaseException:
            discard = getattr(self.projection, "discard", None)
            if discard is not None:
                discard()
            raise
        applied = len(fresh)
        if fresh:
            self.last_event_time = fresh[-1].recorded_at.timestamp()
        self.checkpoints.update(changed)
        self.applied += applied
        self._note_current()
        self._progress.fire()
        return applied

    def _unapplied(
        self, deliveries: Sequence[Delivery]
    ) -> tuple[list[RecordedEvent], list[str], dict[str, Checkpoint]]:
        """The batch's events not applied yet (upcast) in order, their sources, and each source's
        checkpoint after the batch. An event at or below its source's checkpoint (or below an
        earlier one of the batch) is a redelivery; an invalid message (no event) only moves its
        offset on. Positions are compared as tuples: millions per replay."""
        fresh: list[RecordedEvent] = []
        sources: list[str] = []
        # Per source: (tx_id, position) reached, last Kafka offset.
        reached: dict[str, tuple[tuple[int, int], int | None]] = {}
        upcast = self.registry.upcast_record if self.registry is not None else None
        for source, event, offset in deliveries:
            known = reached.get(source)
            if known is None:
                cp = self.checkpoints.get(source) or _NO_CHECKPOINT
                known = ((cp.position.tx_id, cp.position.position), cp.kafka_offset)
            current = known[0]
            if event is None:
                reached[source] = (current, offset)
                continue
            at = (event.position.tx_id, event.position.position)
            if at != _UNPLACED and at <= current:  # a redelivery
                reached[source] = (current, offset)
                continue
            fresh.append(event if upcast is None else upcast(event))
            sources.append(source)
            reached[source] = (at if at > current else current, offset)
        changed = {
            source: Checkpoint(Position(*position), offset) for source, (position, offset) in reached.items()
        }
        return fresh, sources, changed

    def _note_current(self) -> None:
        heads = self._start_heads
        if not self.current and heads is not None:
            self.current = all(_reached(self.checkpoints.get(key), head) for key, head in heads.items())

    async def _apply_traced(self, conn: AsyncConnection, event: RecordedEvent, source: str) -> None:
        """`apply` in a CONSUMER span, a child of the trace context the event carries (from Kafka,
        the relay's publish span; from a store's log, its append)."""
        with _tracer.start_as_current_span(
            f"{self.projection.name} apply",
            context=propagate.extract(event.metadata),
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.operation": "process",
                "messaging.source.name": source,
                "messaging.message.id": event.event_id,
                "onecard.projection": self.projection.name,
                "onecard.event_type": event.event_type,
            },
        ):
            await self.projection.apply(conn, event)

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set, as the single active runner of this projection; after an
        error, again from its checkpoints a second later (a lost leader lock ends the run)."""
        await run_as_leader(
            self.db,
            f"projection:{self.projection.name}",
            self._lead,
            stop,
            standby_seconds=1.0,
            on_held=self._held,
        )

    def _held(self, held: bool) -> None:
        self.standby = not held

    async def _lead(self, stop: asyncio.Event) -> None:
        try:
            if not await self._start_unless_stopped(stop):
                return
            while not stop.is_set():
                await self.run_once()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("projection %s failed; restarting from its checkpoints", self.projection.name)
        finally:
            await self.stop()

    async def _start_unless_stopped(self, stop: asyncio.Event) -> bool:
        """`start()`, abandoned when `stop` comes first: a fresh Kafka source looks up every topic
        and seeks every partition, seconds that a shutdown should not wait for."""
        starting = asyncio.ensure_future(self.start())
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await starting
            return False
        starting.result()
        return True

    async def reach(self, targets: Mapping[str, Checkpoint], deadline: float) -> bool:
        """Wait until this view has applied up to every target checkpoint, or `deadline`
        (monotonic) passes; returns whether it got there. On standby another replica applies
        the events, so its checkpoints are read from the database."""
        while True:
            seen = await self._seen_checkpoints()
            if all(_reached(seen.get(key), target) for key, target in targets.items()):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await self._progress.wait(min(remaining, 0.05 if self.standby else remaining))

    async def _seen_checkpoints(self) -> Mapping[str, Checkpoint]:
        if not self.standby:
            return self.checkpoints
        async with self.db.reads.connect() as conn:
            return await load_checkpoints(conn, self.projection.name)

    def lag_seconds(self, now: float | None = None) -> float:
        """How old the newest state this read model surely reflects is (before its first catch-up,
        counted from the runner's creation)."""
        return max(0.0, (now or time.time()) - (self.caught_up_at or self.created_at))

    async def rebuild(self) -> None:
        """Drop the read model and its checkpoints; the next start replays from the beginning."""
        async with self.db.engine.begin() as conn:
            await self.projection.reset(conn)
            await delete_checkpoints(conn, self.projection.name)
        self.checkpoints = {}


def _reached(seen: Checkpoint | None, target: Checkpoint) -> bool:
    if target.kafka_offset is not None:
        offset = seen.kafka_offset if seen is not None and seen.kafka_offset is not None else -1
        return offset >= target.kafka_offset
    return seen is not None and seen.position >= target.position

"""Event-store append rate on PostgreSQL (1, 8, 64 concurrent writers) and relay throughput to Kafka,
each against a naive baseline in the same run.

  eval "$(bash deploy/local/servers.sh start)"
  .venv/bin/python bench/eventstore.py [--seconds 10] [--relay-events 200000]

Each writer appends one event per transaction to its own stream (the shape of a command), so the
figure is commits per second; a second run appends 100-event batches (the shape of group commit).
The baseline: plain asyncpg INSERTs of the same rows into a table of the same columns, as many
writers, as many rows per transaction. The relay's baseline: a bare aiokafka producer of as many
messages (bench/baselines/kafka_producer.py). Interleaved rounds; medians and ratios.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from typing import ClassVar

import asyncpg
from _common import Comparison, Figure, arguments, asyncpg_url
from baselines.kafka_producer import produce_all
from onecard_events.database import open_database
from onecard_events.kafka import KafkaPublisher, TopicSpec, create_topics
from onecard_events.migrations import upgrade
from onecard_events.model import DomainEvent, NewEvent
from onecard_events.registry import EventRegistry
from onecard_events.relay import Relay
from onecard_events.store import EventStore, StreamAppend
from onecard_identity.bootstrap import MIGRATIONS
from sqlalchemy import text


class Benched(DomainEvent):
    event_type: ClassVar[str] = "bench.benched"
    venue_id: str
    n: int


async def fresh_store(url: str, pool: int) -> EventStore:
    schema = "bench_" + uuid.uuid4().hex[:8]
    db = open_database(url, schema=schema, pool_size=pool)
    await upgrade(db, MIGRATIONS, "identity_0001")
    return EventStore(db, EventRegistry(), source="bench")


async def append_rate(url: str, writers: int, seconds: float, batch: int) -> float:
    store = await fresh_store(url, writers)
    deadline = time.perf_counter() + seconds
    counts = [0] * writers

    async def writer(w: int) -> None:
        version = 0
        while time.perf_counter() < deadline:
            async with store.db.engine.begin() as conn:
                await store.append_batch(
                    conn,
                    [
                        StreamAppend(
                            f"w{w}",
                            [NewEvent(Benched(venue_id="v", n=version + i)) for i in range(batch)],
                            version,
                        )
                    ],
                )
            version += batch
            counts[w] += batch

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    rate = sum(counts) / (time.perf_counter() - started)
    await drop(store)
    return rate


async def drop(store: EventStore) -> None:
    async with store.db.engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{store.db.schema}" CASCADE'))
    await store.db.dispose()


async def relay_rate(url: str, bootstrap: str, events: int) -> float:
    store = await fresh_store(url, 4)
    per_tx = 1000
    for start in range(0, events, per_tx):
        async with store.db.engine.begin() as conn:
            await store.append_batch(
                conn,
                [
                    StreamAppend(
                        f"card-{(start + i) % 5000}", [NewEvent(Benched(venue_id="v", n=start + i))], None
                    )
                    for i in range(per_tx)
                ],
            )
    topic = f"bench_{uuid.uuid4().hex[:8]}.onecard.bench.v1"
    await create_topics(bootstrap, [TopicSpec(topic, partitions=6)])
    publisher = KafkaPublisher(bootstrap)
    await publisher.start()
    relay = Relay(store, publisher, lambda _r: topic, batch_size=5000)
    started = time.perf_counter()
    sent = 0
    while sent < events:
        sent += await relay.run_once()
    rate = sent / (time.perf_counter() - started)
    await publisher.stop()
    await drop(store)
    return rate


NAIVE_TABLE = """CREATE TABLE IF NOT EXISTS naive_events (position bigserial PRIMARY KEY,
 stream_id text NOT NULL, stream_version int NOT NULL, event_id text NOT NULL UNIQUE,
 event_type text NOT NULL, data jsonb NOT NULL, metadata jsonb NOT NULL,
 recorded_at timestamptz NOT NULL DEFAULT now(), UNIQUE (stream_id, stream_version))"""
NAIVE_INSERT = (
    "INSERT INTO naive_events (stream_id, stream_version, event_id, event_type, data, metadata)"
    " VALUES ($1, $2, $3, $4, $5, '{}')"
)


async def naive_append_rate(url: str, writers: int, seconds: float, batch: int) -> float:
    """The same appends as plain asyncpg INSERTs: one transaction of `batch` rows at a time."""
    pool = await asyncpg.create_pool(asyncpg_url(url), min_size=writers, max_size=writers)
    schema = "naive_" + uuid.uuid4().hex[:8]
    await pool.execute(f'CREATE SCHEMA "{schema}"; SET search_path TO "{schema}"; {NAIVE_TABLE}')
    deadline = time.perf_counter() + seconds
    counts = [0] * writers

    async def writer(w: int) -> None:
        version = 0
        async with pool.acquire() as conn:
            await conn.execute(f'SET search_path TO "{schema}"')
            while time.perf_counter() < deadline:
                rows = [
                    (f"w{w}", version + i + 1, uuid.uuid4().hex, "bench.benched", f'{{"n": {version + i}}}')
                    for i in range(batch)
                ]
                async with conn.transaction():
                    await conn.executemany(NAIVE_INSERT, rows)
                version += batch
                counts[w] += batch

    started = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    rate = sum(counts) / (time.perf_counter() - started)
    await pool.execute(f'DROP SCHEMA "{schema}" CASCADE')
    await pool.close()
    return rate


async def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--relay-events", type=int, default=200_000)
    args = parser.parse_args()
    shapes = [(b, w) for b in (1, 100) for w in (1, 8, 64)]
    if args.smoke:
        args.seconds, args.relay_events, args.rounds, shapes = 1, 2000, 1, [(1, 8)]
    url = os.environ["ONECARD_TEST_DATABASE_URL"]
    bootstrap = os.environ["ONECARD_TEST_KAFKA_BOOTSTRAP"]
    for batch, writers in shapes:

        async def project(batch: int = batch, writers: int = writers) -> Figure:
            return Figure(await append_rate(url, writers, args.seconds, batch), "appends/s")

        async def naive(batch: int = batch, writers: int = writers) -> Figure:
            return Figure(await naive_append_rate(url, writers, args.seconds, batch), "appends/s")

        title = f"event store appends: {writers} writers, {batch} events per transaction"
        await Comparison(title, project, naive, "plain asyncpg INSERTs").run(args.rounds)

    async def relay() -> Figure:
        return Figure(await relay_rate(url, bootstrap, args.relay_events), "events/s")

    async def bare_producer() -> Figure:
        topic = f"bench_{uuid.uuid4().hex[:8]}.naive.v1"
        await create_topics(bootstrap, [TopicSpec(topic, partitions=6)])
        return Figure(await produce_all(bootstrap, topic, args.relay_events), "events/s")

    title = f"relay: {args.relay_events:,} events to Kafka (acks=all, idempotent)"
    await Comparison(title, relay, bare_producer, "bare aiokafka producer").run(args.rounds)


if __name__ == "__main__":
    asyncio.run(main())

"""Event-store append rate on PostgreSQL (1, 8, 64 concurrent writers) and relay throughput to Kafka.

  eval "$(bash deploy/local/servers.sh start)"
  .venv/bin/python bench/eventstore.py [--seconds 10] [--relay-events 200000]

Each writer appends one event per transaction to its own stream (the shape of a command), so the
figure is commits per second; a second run appends 100-event batches (the shape of group commit).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from typing import ClassVar

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


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--relay-events", type=int, default=200_000)
    args = parser.parse_args()
    url = os.environ["ONECARD_TEST_DATABASE_URL"]
    bootstrap = os.environ["ONECARD_TEST_KAFKA_BOOTSTRAP"]
    print("| writers | events per transaction | appends/s |")
    print("|---:|---:|---:|")
    for batch in (1, 100):
        for writers in (1, 8, 64):
            rate = await append_rate(url, writers, args.seconds, batch)
            print(f"| {writers} | {batch} | {rate:,.0f} |", flush=True)
    rate = await relay_rate(url, bootstrap, args.relay_events)
    print(f"\nrelay: {args.relay_events:,} events to Kafka (acks=all, idempotent): {rate:,.0f} events/s")


if __name__ == "__main__":
    asyncio.run(main())

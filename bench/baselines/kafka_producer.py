"""The bare Kafka producer baseline: aiokafka publishing N small messages (acks=all, idempotent,
as the relay's producer is), 5,000 in flight at a time. The floor of the relay's rate
(bench/eventstore.py)."""

from __future__ import annotations

import asyncio
import time

import orjson
from aiokafka import AIOKafkaProducer


async def produce_all(bootstrap: str, topic: str, events: int, in_flight: int = 5000) -> float:
    """Messages per second for `events` messages to `topic`, each acknowledged."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    await producer.start()
    try:
        started = time.perf_counter()
        for start in range(0, events, in_flight):
            sent = [
                await producer.send(
                    topic, orjson.dumps({"venue_id": "v", "n": n}), key=f"card-{n % 5000}".encode()
                )
                for n in range(start, min(events, start + in_flight))
            ]
            await asyncio.gather(*sent)
        return events / (time.perf_counter() - started)
    finally:
        await producer.stop()

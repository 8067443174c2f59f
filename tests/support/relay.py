"""A relay as its own process, for the crash test:
`python -m tests.support.relay URL SCHEMA BOOTSTRAP TOPIC` (see `processes.start_relay`)."""

from __future__ import annotations

import asyncio
import sys

from onecard_events.database import open_database
from onecard_events.kafka import KafkaPublisher
from onecard_events.registry import EventRegistry
from onecard_events.relay import Relay
from onecard_events.store import EventStore


async def main(url: str, schema: str, bootstrap: str, topic: str) -> None:
    store = EventStore(open_database(url, schema=schema), EventRegistry(), source="relaytest")
    publisher = KafkaPublisher(bootstrap)
    await publisher.start()
    relay = Relay(store, publisher, lambda _r: topic, batch_size=250)
    await relay.run(asyncio.Event())


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))

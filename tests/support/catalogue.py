"""Catalogue events for the services under test, recorded the way the catalog service would:
into an in-process platform's catalog store, or onto the catalog topic for services run as
processes."""

from __future__ import annotations

import uuid
from typing import Any

from onecard_events.cloudevents import to_kafka
from onecard_events.kafka import KafkaPublisher, service_topic
from onecard_events.model import DomainEvent, Position, RecordedEvent, utcnow

from tests.support.platform import RunningPlatform
from tests.support.waiting import eventually


def catalog_stream_of(event: DomainEvent) -> str:
    """One seed stream per catalogue aggregate (item, venue, terminal, merchant): Kafka keys by
    stream, so an aggregate's events share a partition and arrive in the order they were recorded."""
    d = event.model_dump()
    if "item" in d:
        return f"seed-item-{d['item']['item_id']}"
    if "terminal_id" in d:
        return f"seed-terminal-{d['venue_id']}-{d['terminal_id']}"
    for key in ("merchant_id", "venue_id", "item_id", "client_id", "code"):
        if key in d:
            return f"seed-{key}-{d[key]}"
    return f"seed-{uuid.uuid4().hex}"


async def seed_catalog(running: RunningPlatform, *events: DomainEvent) -> None:
    """Record catalogue events straight into the catalog's store (as the catalog service would),
    then wait until every service's catalogue view has applied them."""
    catalog = running.runtime("catalog")
    async with catalog.db.engine.begin() as conn:
        written = [
            (await catalog.store.append(conn, catalog_stream_of(event), [event], expected_version=None))[-1]
            for event in events
        ]
    if written:
        await catalog_views_caught_up(running, max(r.position for r in written))


async def catalog_views_caught_up(
    running: RunningPlatform, target: Position | None = None, timeout: float = 60.0
) -> None:
    """Wait until every service's catalog_view projection has applied the catalog's log up to
    `target` (default: its head, read afresh on every poll, since a head read below the cluster's
    snapshot xmin may trail a commit made a moment before)."""
    catalog = running.runtime("catalog")

    async def caught_up() -> bool:
        goal = target if target is not None else await catalog.store.head()
        for runtime in running.dispatcher.runtimes:
            for runner in runtime.projections:
                if not runner.projection.name.endswith("_catalog_view"):
                    continue
                if max((cp.position for cp in runner.checkpoints.values()), default=Position()) < goal:
                    return False
        return True

    await eventually(caught_up, timeout)


async def publish_catalog(kafka: str, prefix: str, *events: DomainEvent) -> None:
    """Put catalogue events on the catalog topic (under topic prefix `prefix`), as the catalog's
    relay would: one stream (so one Kafka key and partition) for all of them, which keeps them in
    order."""
    stream_id = f"seed-{uuid.uuid4().hex}"
    publisher = KafkaPublisher(kafka, client_id="onecard-test-seed")
    await publisher.start()
    try:
        messages: list[Any] = []
        for i, event in enumerate(events, start=1):
            record = RecordedEvent(
                event_id=str(uuid.uuid4()),
                event_type=event.event_type,
                schema_version=event.schema_version,
                stream_id=stream_id,
                stream_version=i,
                position=Position(0, i),
                recorded_at=utcnow(),
                data=event.model_dump(mode="json"),
                source="catalog",
            )
            messages.append((service_topic("catalog", prefix), *to_kafka(record, "catalog")))
        await publisher.publish(messages)
    finally:
        await publisher.stop()

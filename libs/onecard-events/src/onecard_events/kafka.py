"""Kafka at the edge: the producer the relay uses, topic specifications and their creation."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .cloudevents import Headers
from .topology import SERVICES

if TYPE_CHECKING:  # imported where Kafka is used: the embedded mode never pays for aiokafka
    from aiokafka import AIOKafkaProducer


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int = 6
    # -1 keeps events forever: the service topics are the replayable history projections rebuild from.
    retention_ms: int = -1
    config: dict[str, str] = field(default_factory=dict)


def service_topic(service: str, prefix: str = "") -> str:
    return f"{prefix}onecard.{service}.v1"


def partner_outbound_topic(region: str, prefix: str = "") -> str:
    return f"{prefix}onecard.partner.{region}.v1"


def partner_inbound_topic(region: str, prefix: str = "") -> str:
    return f"{prefix}partner.{region}.onecard.v1"


def platform_topics(
    partners: Sequence[str] = ("510000",), partitions: int = 6, prefix: str = ""
) -> list[TopicSpec]:
    """Every topic the platform uses: one per service, and three per partner region.

    `prefix` namespaces a whole deployment (ONECARD_TOPIC_PREFIX); production uses none.
    """
    week = 7 * 24 * 3600 * 1000
    topics = [TopicSpec(service_topic(s, prefix), partitions) for s in SERVICES]
    for region in partners:
        topics += [
            TopicSpec(partner_outbound_topic(region, prefix), partitions, retention_ms=30 * 24 * 3600 * 1000),
            TopicSpec(partner_inbound_topic(region, prefix), partitions, retention_ms=30 * 24 * 3600 * 1000),
            TopicSpec(partner_inbound_topic(region, prefix) + ".dlq", 1, retention_ms=4 * week),
        ]
    return topics


async def create_topics(bootstrap: str, specs: Sequence[TopicSpec], replication: int = 1) -> list[str]:
    """Create missing topics with explicit partitions and retention; returns the ones created."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import TopicAlreadyExistsError

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    created: list[str] = []
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(
                s.name,
                num_partitions=s.partitions,
                replication_factor=replication,
                topic_configs={"retention.ms": str(s.retention_ms), **s.config},
            )
            for s in specs
            if s.name not in existing
        ]
        if new:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(new)
            created = [t.name for t in new]
        # Metadata propagates asynchronously; wait until every topic is visible to clients.
        for _ in range(100):
            if {s.name for s in specs} <= set(await admin.list_topics()):
                break
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
    return created


class KafkaPublisher:
    """Idempotent producer with acks=all: per-partition order holds even when sends are retried."""

    def __init__(self, bootstrap: str, client_id: str = "onecard") -> None:
        from aiokafka import AIOKafkaProducer

        self._producer: AIOKafkaProducer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            client_id=client_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            max_batch_size=256 * 1024,
            compression_type=None,
        )

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish(self, messages: Sequence[tuple[str, bytes, bytes, Headers]]) -> None:
        """Send (topic, key, value, headers) messages and return once the broker acknowledged all."""
        futures = [
            await self._producer.send(topic, value=value, key=key, headers=headers)
            for topic, key, value, headers in messages
        ]
        if futures:
            await asyncio.gather(*futures)

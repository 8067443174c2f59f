"""Inbound partner streams: the partner's reports of our cards used there, and its hotlist changes.

Each message must be a CloudEvent whose data validates against its JSON Schema and names the
topic's region; anything else goes to `<topic>.dlq` with a `reason` header and the consumer moves
on. Accepted events are recorded in reporting's store (the depth projection counts the outbound
use; identity can follow `onecard.reporting.partner_hotlist_changed`) in the same transaction as
the consumer's offsets.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import ConsumerRecord, TopicPartition
from onecard_events.checkpoint import Checkpoint, load_checkpoints, save_checkpoints
from onecard_events.cloudevents import InvalidCloudEvent, from_kafka
from onecard_events.kafka import KafkaPublisher, partner_inbound_topic
from onecard_events.leadership import leadership
from onecard_events.model import DomainEvent, NewEvent
from onecard_events.store import StreamAppend
from onecard_events.subscription import KafkaSource
from onecard_events.waiting import wait_or_stop
from onecard_service.platform import ServiceRuntime
from prometheus_client import Counter

from ..domain.events import PartnerCardUsed, PartnerHotlistChanged
from .schemas import problems

log = logging.getLogger(__name__)
READER = "partner_inbound"
CARD_USED, HOTLIST = "partner.card_used", "partner.hotlist_changed"
Polled = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]


class Rejected(ValueError):
    pass


@dataclass(frozen=True)
class Accepted:
    event_id: str
    event: DomainEvent


def accept(
    region: str, topic: str, key: bytes | None, value: bytes | None, headers: Sequence[Any]
) -> Accepted:
    """The reporting event a partner message stands for; raises Rejected with the reason."""
    try:
        record = from_kafka(key, value, headers)
    except InvalidCloudEvent as exc:
        raise Rejected(f"not a CloudEvent: {exc}") from None
    errors = problems(record.event_type, record.data)
    if errors:
        raise Rejected("; ".join(errors)[:500])
    d = record.data
    if d["region"] != region:
        raise Rejected(f"region {d['region']} on the stream of {region}")
    event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{topic}|{record.event_id}"))
    if record.event_type == CARD_USED:
        fields = ("kind", "item_id", "issuer_region", "method", "holder_ref", "occurred_at")
        return Accepted(
            event_id,
            PartnerCardUsed(region=region, partner_event_id=record.event_id, **{f: d.get(f) for f in fields}),
        )
    return Accepted(
        event_id, PartnerHotlistChanged(region=region, card_key=d["card_key"], status=d["status"])
    )


def dead_letter(
    topic: str, m: ConsumerRecord[bytes, bytes], reason: str
) -> tuple[str, bytes, bytes, list[tuple[str, bytes]]]:
    headers = [
        *list(m.headers or []),
        ("reason", reason.encode()),
        ("source_topic", topic.encode()),
        ("source_partition", str(m.partition).encode()),
        ("source_offset", str(m.offset).encode()),
    ]
    return topic + ".dlq", m.key or b"", m.value or b"", headers


class RawKafkaSource(KafkaSource):
    """KafkaSource's assignment and seeking from stored offsets, handing out the raw messages."""

    async def fetch_raw(self, max_records: int, timeout: float) -> Polled:
        assert self._consumer is not None, "start() first"
        polled: Polled = await self._consumer.getmany(timeout_ms=int(timeout * 1000), max_records=max_records)
        return polled


class PartnerInbound:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.settings = runtime.platform.settings
        self.regions = {
            partner_inbound_topic(r, self.settings.topic_prefix): r for r in self.settings.partners
        }
        self.accepted = 0
        self.rejected = 0
        self.dead_letters = Counter(
            "onecard_dlq_events",
            "Partner events sent to a dead-letter topic",
            ["topic"],
            registry=runtime.metrics,
        )
        for topic in self.regions:
            # Start every series at 0 so the alert's increase() sees the first dead letter.
            self.dead_letters.labels(topic + ".dlq")

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            async with leadership(self.runtime.db, READER) as leader:
                if not leader:
                    await wait_or_stop(stop, 2.0)
                    continue
                try:
                    await self._lead(stop)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("partner inbound failed; restarting from its checkpoints")
                    await wait_or_stop(stop, 1.0)

    async def _lead(self, stop: asyncio.Event) -> None:
        bootstrap = self.settings.kafka_bootstrap
        assert bootstrap is not None
        source = RawKafkaSource(bootstrap, list(self.regions), client_id="onecard-partner-inbound")
        publisher = KafkaPublisher(bootstrap, client_id="onecard-partner-dlq")
        async with self.runtime.db.engine.connect() as conn:
            await source.start(await load_checkpoints(conn, READER))
        await publisher.start()
        try:
            while not stop.is_set():
                await self.handle(await source.fetch_raw(1000, 0.5), publisher)
        finally:
            await source.stop()
            await publisher.stop()

    async def handle(
        self, polled: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]], publisher: KafkaPublisher
    ) -> None:
        appends: list[StreamAppend] = []
        dead = []
        changed: dict[str, Checkpoint] = {}
        for tp, messages in polled.items():
            region = self.regions[tp.topic]
            for m in messages:
                try:
                    ok = accept(region, tp.topic, m.key, m.value, m.headers or [])
                    appends.append(
                        StreamAppend(f"partner-{region}-{ok.event_id}", [NewEvent(ok.event, ok.event_id)])
                    )
                except Rejected as exc:
                    dead.append(dead_letter(tp.topic, m, str(exc)))
                changed[f"{tp.topic}:{tp.partition}"] = Checkpoint(kafka_offset=m.offset)
        if not changed:
            return
        await publisher.publish(dead)
        async with self.runtime.db.engine.begin() as conn:
            for append in appends:
                await self.runtime.store.append_batch(conn, [append])
            await save_checkpoints(conn, READER, changed)
        self.accepted += len(appends)
        self.rejected += len(dead)
        for topic, *_ in dead:
            self.dead_letters.labels(topic).inc()

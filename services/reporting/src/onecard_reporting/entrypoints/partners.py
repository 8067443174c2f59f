"""The partner stream workers (distributed mode; the partners come from settings).

Inbound: the partner's reports of our cards used there, and its hotlist changes, from
`partner.<region>.onecard.v1`; anything invalid goes to `<topic>.dlq` with a `reason` header and
the consumer moves on.

Outbound: a process manager reads the identity and payments topics and publishes, for every
cross-region event involving a partner's card, a CloudEvent to `onecard.partner.<region>.v1`. It
publishes with the idempotent producer, waits for the acks, then stores its position (at least
once; the CloudEvent id is the source event's id, so the partner drops repeats).

Each runs as the single active worker of its name (`run_as_leader`), restarting from its
checkpoints after an error.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from onecard_events.checkpoint import Checkpoint, load_checkpoints
from onecard_events.kafka import KafkaPublisher, partner_inbound_topic, service_topic
from onecard_events.leadership import run_as_leader
from onecard_events.model import Position
from onecard_events.subscription import KafkaSource
from onecard_service.platform import ServiceRuntime
from prometheus_client import Counter

from ..adapters.partners.messages import (
    Accepted,
    Message,
    RawKafkaSource,
    Rejected,
    accept,
    dead_letter,
    outbound_message,
)
from ..handlers.partners import record_partner_reports, remember_positions

if TYPE_CHECKING:
    from ..adapters.partners.messages import Polled

log = logging.getLogger(__name__)
INBOUND, OUTBOUND = "partner_inbound", "partner_outbound"


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
        await run_as_leader(self.runtime.db, INBOUND, self._lead, stop)

    async def _lead(self, stop: asyncio.Event) -> None:
        bootstrap = self.settings.kafka_bootstrap
        assert bootstrap is not None
        source = RawKafkaSource(bootstrap, list(self.regions), client_id="onecard-partner-inbound")
        publisher = KafkaPublisher(bootstrap, client_id="onecard-partner-dlq")
        async with self.runtime.db.reads.connect() as conn:
            await source.start(await load_checkpoints(conn, INBOUND))
        await publisher.start()
        try:
            while not stop.is_set():
                await self.handle(await source.fetch_raw(1000, 0.5), publisher)
        finally:
            await source.stop()
            await publisher.stop()

    async def handle(self, polled: Polled, publisher: KafkaPublisher) -> None:
        accepted: list[tuple[str, Accepted]] = []
        dead = []
        changed: dict[str, Checkpoint] = {}
        for tp, messages in polled.items():
            region = self.regions[tp.topic]
            for m in messages:
                try:
                    accepted.append((region, accept(region, tp.topic, m.key, m.value, m.headers or [])))
                except Rejected as exc:
                    dead.append(dead_letter(tp.topic, m, str(exc)))
                changed[f"{tp.topic}:{tp.partition}"] = Checkpoint(kafka_offset=m.offset)
        if not changed:
            return
        await publisher.publish(dead)
        await record_partner_reports(self.runtime.store, INBOUND, accepted, changed)
        self.accepted += len(accepted)
        self.rejected += len(dead)
        for topic, *_ in dead:
            self.dead_letters.labels(topic).inc()


class PartnerOutbound:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.settings = runtime.platform.settings
        self.checkpoints: dict[str, Checkpoint] = {}

    async def run(self, stop: asyncio.Event) -> None:
        await run_as_leader(self.runtime.db, OUTBOUND, self._lead, stop)

    async def _lead(self, stop: asyncio.Event) -> None:
        bootstrap, prefix = self.settings.kafka_bootstrap, self.settings.topic_prefix
        assert bootstrap is not None
        topics = [service_topic(s, prefix) for s in ("identity", "payments")]
        source = KafkaSource(bootstrap, topics, client_id="onecard-partner-outbound")
        publisher = KafkaPublisher(bootstrap, client_id="onecard-partner-outbound")
        async with self.runtime.db.reads.connect() as conn:
            self.checkpoints = await load_checkpoints(conn, OUTBOUND)
        await source.start(self.checkpoints)
        await publisher.start()
        try:
            while not stop.is_set():
                await self.run_once(source, publisher)
        finally:
            await source.stop()
            await publisher.stop()

    async def run_once(self, source: KafkaSource, publisher: KafkaPublisher) -> int:
        deliveries = await source.fetch(1000, 0.5)
        messages: list[Message] = []
        changed: dict[str, Checkpoint] = {}
        keys, partners = self.runtime.platform.personal_data, self.settings.partners
        for d in deliveries:
            current = changed.get(d.source) or self.checkpoints.get(d.source, Checkpoint())
            event = d.event
            fresh = event is not None and (event.position == Position() or event.position > current.position)
            if event is not None and fresh:
                message = outbound_message(
                    event, partners, keys, self.settings.topic_prefix, self.settings.region
                )
                if message is not None:
                    messages.append(message)
            position = current.position if event is None else max(current.position, event.position)
            changed[d.source] = Checkpoint(position, d.kafka_offset)
        await publisher.publish(messages)
        if changed:
            await remember_positions(self.runtime.store, OUTBOUND, changed)
            self.checkpoints.update(changed)
        return len(messages)


def add_partner_workers(runtime: ServiceRuntime) -> tuple[PartnerOutbound, PartnerInbound]:
    outbound, inbound = PartnerOutbound(runtime), PartnerInbound(runtime)
    runtime.add_worker("partner_outbound", outbound.run)
    # Like the relay, it only carries events out to Kafka: stuck, it is an alert, not unreadiness.
    runtime.supervisor.watch("partner_outbound", gates_readiness=False)
    runtime.add_worker("partner_inbound", inbound.run)
    runtime.app.state.partner_workers = (outbound, inbound)
    return outbound, inbound

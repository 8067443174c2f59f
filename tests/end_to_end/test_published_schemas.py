"""Every event the end-to-end world publishes validates against the JSON Schema of its type.

The world of test_depth_through_public_apis is built through the public APIs. In the distributed
mode every message on the platform's service topics (and its outbound partner topics) is read back
from Kafka, from the beginning up to the end offsets, parsed as a CloudEvent and its data checked
against `onecard_contracts.schemas`; every event the stores recorded must be among them. In the
embedded mode (no Kafka) every event of every store is checked. A type without a schema, or data
its schema refuses, fails the test; all failures are collected and printed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from onecard_contracts import schemas
from onecard_disbursement.domain import events as disbursement_events
from onecard_events.cloudevents import InvalidCloudEvent, from_kafka
from onecard_events.kafka import partner_outbound_topic, service_topic
from onecard_events.model import START, RecordedEvent
from onecard_events.topology import SERVICES
from onecard_service.auth import Principal

from tests.end_to_end.test_depth_through_public_apis import build_world, when_served
from tests.support.platform import RunningPlatform, token_for
from tests.support.waiting import eventually

# What the world produces at the least (a run may add more, e.g. retried verifications).
WORLD_TYPES = {
    "onecard.catalog.item_published",
    "onecard.catalog.venue_registered",
    "onecard.catalog.terminal_deployed",
    "onecard.catalog.terminal_decommissioned",
    "onecard.catalog.merchant_registered",
    "onecard.catalog.merchant_joined_agreement",
    "onecard.identity.card_registered",
    "onecard.identity.ecard_issued",
    "onecard.identity.signing_key_published",
    "onecard.identity.verification_recorded",
    "onecard.payments.bill_opened",
    "onecard.payments.payment_initiated",
    "onecard.payments.payment_settled",
    # A disbursement batch runs its whole course: every type the service registers.
    *disbursement_events.registry.types(),
}


@dataclass(frozen=True)
class Message:
    where: str  # topic:partition@offset, or the store
    event_id: str
    event_type: str
    data: dict[str, Any]


def problems(messages: list[Message]) -> list[str]:
    """Every message whose type has no schema or whose data its schema refuses, with the reasons."""
    failures = []
    for m in messages:
        if schemas.schema(m.event_type) is None:
            failures.append(f"{m.where} {m.event_type} ({m.event_id}): no JSON Schema for this type")
            continue
        failures += [
            f"{m.where} {m.event_type} ({m.event_id}): {p}" for p in schemas.problems(m.event_type, m.data)
        ]
    return failures


async def refuse_before_reading(p: RunningPlatform) -> None:
    """A verification refused before the card is read (V2's terminal takes no e-card): it is
    recorded, and published, with `issuer_region` null."""
    venue = token_for(p, Principal("e2e-venue-v2", "venue", venues=frozenset({"V2"})))
    body = {"venue_id": "V2", "terminal_id": "T2", "method": "electronic", "qr": "not-a-code"}

    async def refused() -> dict[str, Any] | None:
        response = await p.client.post("/identity/v1/verifications", json=body, headers=venue)
        # 404 until the identity service has seen the terminal
        return response.json() if response.status_code == 200 else None

    result = await when_served(refused)
    assert (result["verified"], result["reason"]) == (False, "no_terminal")


async def stored_events(p: RunningPlatform, service: str) -> list[RecordedEvent]:
    store = p.platform.store(service)
    events: list[RecordedEvent] = []
    after = START
    while batch := await store.read_all(after, limit=1000):
        events += batch
        after = batch[-1].position
    return events


async def read_topics(bootstrap: str, topics: list[str]) -> tuple[list[Message], list[str]]:
    """Every message on `topics` up to their end offsets now, as CloudEvents (and the messages that
    are not CloudEvents)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id="onecard-schema-check",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        group_id=None,
    )
    await consumer.start()
    messages: list[Message] = []
    invalid: list[str] = []
    try:
        cluster = await consumer._client.fetch_all_metadata()
        partitions = [
            TopicPartition(topic, n)
            for topic in topics
            for n in sorted(cluster.partitions_for_topic(topic) or ())
        ]
        missing = set(topics) - {tp.topic for tp in partitions}
        assert not missing, f"topics not found: {sorted(missing)}"
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        pending = {tp for tp in partitions if ends[tp] > 0}
        while pending:
            polled = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, records in polled.items():
                for r in records:
                    if r.offset >= ends[tp]:
                        continue
                    where = f"{tp.topic}:{tp.partition}@{r.offset}"
                    try:
                        event = from_kafka(r.key, r.value, r.headers)
                    except InvalidCloudEvent as exc:
                        invalid.append(f"{where}: not a CloudEvent: {exc}")
                        continue
                    messages.append(Message(where, event.event_id, event.event_type, event.data))
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    return messages, invalid


async def test_every_published_event_validates_against_its_schema(any_mode: RunningPlatform) -> None:
    p = any_mode
    await build_world(p)
    await refuse_before_reading(p)

    settings = p.platform.settings
    stored = {s: await stored_events(p, s) for s in SERVICES}
    if p.platform.embedded:
        messages = [
            Message(f"store {s}", e.event_id, e.event_type, e.data)
            for s, events in stored.items()
            for e in events
        ]
        invalid: list[str] = []
    else:
        assert settings.kafka_bootstrap is not None
        prefix = settings.topic_prefix
        topics = [service_topic(s, prefix) for s in SERVICES]
        topics += [partner_outbound_topic(region, prefix) for region in settings.partners]
        expected = {e.event_id for events in stored.values() for e in events}
        read: tuple[list[Message], list[str]] = ([], [])

        async def everything_stored_is_published() -> bool:
            nonlocal read
            read = await read_topics(settings.kafka_bootstrap or "", topics)
            return expected <= {m.event_id for m in read[0]}

        try:
            await eventually(everything_stored_is_published, timeout=60, interval=0.5)
        except AssertionError:
            unpublished = expected - {m.event_id for m in read[0]}
            raise AssertionError(f"{len(unpublished)} stored events never reached Kafka") from None
        messages, invalid = read

    seen = Counter(m.event_type for m in messages)
    print(f"\n{len(messages)} events checked, by type: {dict(sorted(seen.items()))}")
    failures = invalid + problems(messages)
    for failure in failures:
        print(failure)
    assert failures == [], f"{len(failures)} published events do not match their schema"
    assert set(seen) >= WORLD_TYPES, f"the world did not produce {sorted(WORLD_TYPES - set(seen))}"
    unread = [
        m
        for m in messages
        if m.event_type.endswith("verification_recorded") and m.data["issuer_region"] is None
    ]
    assert unread, "no verification refused before the card was read (issuer_region null) was checked"

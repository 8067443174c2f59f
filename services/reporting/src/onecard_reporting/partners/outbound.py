"""Outbound partner stream: our side of cross-region card use, for the partner whose card it was.

A process manager reads the identity and payments topics and publishes, for every cross-region
event involving a partner's card, a CloudEvent to `onecard.partner.<region>.v1` with a holder
pseudonym specific to that partner and no ssn, card number or name. It publishes with the
idempotent producer, waits for the acks, then stores its position (at least once; the CloudEvent
id is the source event's id, so the partner drops repeats).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import orjson
from onecard_events.checkpoint import Checkpoint, load_checkpoints, save_checkpoints
from onecard_events.cloudevents import Headers, dataschema
from onecard_events.kafka import KafkaPublisher, partner_outbound_topic, service_topic
from onecard_events.leadership import leadership
from onecard_events.model import Position, RecordedEvent
from onecard_events.subscription import KafkaSource
from onecard_events.waiting import wait_or_stop
from onecard_service.platform import ServiceRuntime
from onecard_service.privacy import PersonalDataKeys

from ..domain.levels import province

log = logging.getLogger(__name__)
READER = "partner_outbound"
Message = tuple[str, bytes, bytes, Headers]


def partner_of(record: RecordedEvent, partners: Sequence[str]) -> str | None:
    d = record.data
    if not d.get("cross_region"):
        return None
    if record.event_type == "onecard.identity.verification_recorded":
        region = d.get("partner_region") or province(d.get("issuer_region") or "")
    elif record.event_type == "onecard.payments.payment_settled":
        region = province(d.get("issuer_region") or "")
    else:
        return None
    return region if region in partners else None


def partner_payload(
    record: RecordedEvent, partner: str, keys: PersonalDataKeys
) -> tuple[str, str, dict[str, Any]]:
    """(type, key, data) of the partner's event: whitelisted fields only, holder as a pseudonym."""
    d = record.data
    holder = d.get("holder_key") or d.get("payer_key")
    ref = keys.pseudonym(holder, f"partner:{partner}") if holder else None
    if record.event_type == "onecard.identity.verification_recorded":
        fields = (
            "verification_id",
            "item_id",
            "jurisdiction",
            "method",
            "verified",
            "reason",
            "issuer_region",
        )
        data = {f: d.get(f) for f in fields} | {"holder_ref": ref, "occurred_at": d.get("occurred_at")}
        return "onecard.partner.verification_recorded", d["verification_id"], data
    paid = ("payment_id", "item_id", "jurisdiction", "method", "amount_fen", "issuer_region")
    data = {f: d.get(f) for f in paid} | {"holder_ref": ref, "settled_at": d.get("settled_at")}
    return "onecard.partner.payment_settled", d["payment_id"], data


def outbound_message(
    record: RecordedEvent, partners: Sequence[str], keys: PersonalDataKeys, prefix: str, region: str
) -> Message | None:
    partner = partner_of(record, partners)
    if partner is None:
        return None
    event_type, key, data = partner_payload(record, partner, keys)
    headers: Headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", record.event_id.encode()),
        ("ce_source", f"urn:onecard:{region}".encode()),
        ("ce_type", event_type.encode()),
        ("ce_time", record.time_rfc3339().encode()),
        ("ce_dataschema", dataschema(event_type, 1).encode()),
        ("content-type", b"application/json"),
    ]
    return partner_outbound_topic(partner, prefix), key.encode(), orjson.dumps(data), headers


class PartnerOutbound:
    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime
        self.settings = runtime.platform.settings
        self.checkpoints: dict[str, Checkpoint] = {}

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
                    log.exception("partner outbound failed; restarting from its checkpoints")
                    await wait_or_stop(stop, 1.0)

    async def _lead(self, stop: asyncio.Event) -> None:
        bootstrap, prefix = self.settings.kafka_bootstrap, self.settings.topic_prefix
        assert bootstrap is not None
        topics = [service_topic(s, prefix) for s in ("identity", "payments")]
        source = KafkaSource(bootstrap, topics, client_id="onecard-partner-outbound")
        publisher = KafkaPublisher(bootstrap, client_id="onecard-partner-outbound")
        async with self.runtime.db.engine.connect() as conn:
            self.checkpoints = await load_checkpoints(conn, READER)
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
            async with self.runtime.db.engine.begin() as conn:
                await save_checkpoints(conn, READER, changed)
            self.checkpoints.update(changed)
        return len(messages)

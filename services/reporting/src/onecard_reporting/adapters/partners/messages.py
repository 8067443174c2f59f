"""The partner streams' messages: partner CloudEvents read into reporting events (or the reason
they are refused, for the dead-letter topic), and our cross-region events written for a partner.

Each inbound message must be a CloudEvent whose data validates against its JSON Schema
(`onecard_contracts.schemas`) and names the topic's region. An outbound message carries a holder
pseudonym specific to the partner and no ssn, card number or name.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from onecard_contracts.schemas import problems
from onecard_events.cloudevents import Headers, InvalidCloudEvent, dataschema, from_kafka
from onecard_events.kafka import partner_outbound_topic
from onecard_events.model import DomainEvent, RecordedEvent
from onecard_events.subscription import KafkaSource
from onecard_service.privacy import PersonalDataKeys

from ...domain.events import PartnerCardUsed, PartnerHotlistChanged
from ...domain.partners import partner_of

CARD_USED, HOTLIST = "partner.card_used", "partner.hotlist_changed"
if TYPE_CHECKING:  # aiokafka is loaded where Kafka is used
    from aiokafka import ConsumerRecord, TopicPartition

    Polled = dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
Message = tuple[str, bytes, bytes, Headers]


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
        if d.get("offline"):  # a tap uploaded by an offline validator: what the platform found
            data["offline"] = {k: d["offline"].get(k) for k in ("validator_verified", "finding")}
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

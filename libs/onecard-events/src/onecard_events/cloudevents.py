"""CloudEvents 1.0 in Kafka binary mode: attributes as `ce_*` headers, the data as the JSON value.

Besides the required attributes we set `subject` (the stream id), `sequence` (the position in the
source store, lexicographically ordered: consumers drop redeliveries with it), `dataschema` and the
extension `schemaversion`, and carry the W3C `traceparent` so a trace crosses Kafka.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

from .model import Position, RecordedEvent

SPEC_VERSION = "1.0"
Headers = list[tuple[str, bytes]]


def dataschema(event_type: str, version: int) -> str:
    return f"urn:onecard:schema:{event_type}:{version}"


def to_kafka(
    record: RecordedEvent, source: str, trace_context: Mapping[str, str] | None = None
) -> tuple[bytes, bytes, Headers]:
    """(key, value, headers) for a recorded event; the key is the aggregate (stream) id.

    `trace_context` (W3C `traceparent`/`tracestate`, e.g. the relay's publish span) replaces the
    trace context the event was stored with."""
    headers: Headers = [
        ("ce_specversion", SPEC_VERSION.encode()),
        ("ce_id", record.event_id.encode()),
        ("ce_source", source.encode()),
        ("ce_type", record.event_type.encode()),
        ("ce_time", record.time_rfc3339().encode()),
        ("ce_subject", record.stream_id.encode()),
        ("ce_sequence", record.position.as_sequence().encode()),
        ("ce_dataschema", dataschema(record.event_type, record.schema_version).encode()),
        ("ce_schemaversion", str(record.schema_version).encode()),
        ("ce_streamversion", str(record.stream_version).encode()),
        ("content-type", b"application/json"),
    ]
    carried = record.metadata if trace_context is None else trace_context
    for name in ("traceparent", "tracestate"):
        if value := carried.get(name):
            headers.append((name, str(value).encode()))
    return record.stream_id.encode(), orjson.dumps(record.data), headers


class InvalidCloudEvent(ValueError):
    pass


def header_map(headers: Sequence[tuple[str, bytes]] | None) -> dict[str, str]:
    return {k: v.decode("utf-8", "replace") for k, v in (headers or [])}


def from_kafka(
    key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]] | None
) -> RecordedEvent:
    """The recorded event a Kafka message carries; raises InvalidCloudEvent when malformed."""
    h = header_map(headers)
    for required in ("ce_specversion", "ce_id", "ce_source", "ce_type"):
        if not h.get(required):
            raise InvalidCloudEvent(f"missing header {required}")
    if h["ce_specversion"] != SPEC_VERSION:
        raise InvalidCloudEvent(f"unsupported specversion {h['ce_specversion']}")
    try:
        data: Any = orjson.loads(value) if value else {}
    except orjson.JSONDecodeError as exc:
        raise InvalidCloudEvent(f"value is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidCloudEvent("value is not a JSON object")
    try:
        when = (
            datetime.fromisoformat(h["ce_time"].replace("Z", "+00:00"))
            if h.get("ce_time")
            else datetime.now(UTC)
        )
        position = (
            Position.from_sequence(h["ce_sequence"]) if len(h.get("ce_sequence", "")) == 40 else Position()
        )
        version = int(h.get("ce_schemaversion", "1"))
        stream_version = int(h.get("ce_streamversion", "0"))
    except ValueError as exc:
        raise InvalidCloudEvent(str(exc)) from exc
    metadata: dict[str, Any] = {k: h[k] for k in ("traceparent", "tracestate") if k in h}
    return RecordedEvent(
        event_id=h["ce_id"],
        event_type=h["ce_type"],
        schema_version=version,
        stream_id=h.get("ce_subject") or (key.decode() if key else ""),
        stream_version=stream_version,
        position=position,
        recorded_at=when,
        data=data,
        metadata=metadata,
        source=h["ce_source"],
    )

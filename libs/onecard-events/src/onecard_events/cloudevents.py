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


# Header values that repeat across messages (types, sources, versions) are decoded once: a replay
# decodes millions of messages, with a handful of distinct values among these. Bounded: a
# producer sending ever new values only refills it.
_TEXTS: dict[bytes, str] = {}
_TEXTS_MAX = 4096


_SPEC_VERSION = SPEC_VERSION.encode()


def _text(value: bytes | None) -> str:
    if not value:
        return ""
    found = _TEXTS.get(value)
    if found is None:
        found = value.decode("utf-8", "replace")
        if len(_TEXTS) >= _TEXTS_MAX:
            _TEXTS.clear()
        _TEXTS[value] = found
    return found


def _position(sequence: bytes | None) -> Position:
    """The store position in a `sequence` header (40 digits); none when it is not 40 long."""
    text = sequence.decode("utf-8", "replace") if sequence else ""
    return Position.from_sequence(text) if len(text) == 40 else Position()


def from_kafka(
    key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]] | None
) -> RecordedEvent:
    """The recorded event a Kafka message carries; raises InvalidCloudEvent when malformed.

    On the hot path of every projection's replay: only the headers it uses are decoded (the
    last of a repeated header wins, as in `header_map`)."""
    h: dict[str, bytes] = dict(headers) if headers else {}
    spec, event_id, source, event_type = (
        h.get("ce_specversion"),
        h.get("ce_id"),
        h.get("ce_source"),
        h.get("ce_type"),
    )
    if not spec:
        raise InvalidCloudEvent("missing header ce_specversion")
    if not event_id:
        raise InvalidCloudEvent("missing header ce_id")
    if not source:
        raise InvalidCloudEvent("missing header ce_source")
    if not event_type:
        raise InvalidCloudEvent("missing header ce_type")
    if spec != _SPEC_VERSION:
        raise InvalidCloudEvent(f"unsupported specversion {_text(spec)}")
    try:
        data: Any = orjson.loads(value) if value else {}
    except orjson.JSONDecodeError as exc:
        raise InvalidCloudEvent(f"value is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidCloudEvent("value is not a JSON object")
    try:
        sent = h.get("ce_time")
        when = (
            datetime.fromisoformat(sent.decode("utf-8", "replace").replace("Z", "+00:00"))
            if sent
            else datetime.now(UTC)
        )
        sequence = h.get("ce_sequence")
        position = _position(sequence)
        schema_version = h.get("ce_schemaversion")
        version = 1 if schema_version is None else int(_text(schema_version))
        stream_version = h.get("ce_streamversion")
        streamed = 0 if stream_version is None else int(stream_version.decode("utf-8", "replace"))
    except ValueError as exc:
        raise InvalidCloudEvent(str(exc)) from exc
    metadata: dict[str, Any] = {}
    if "traceparent" in h:
        metadata["traceparent"] = h["traceparent"].decode("utf-8", "replace")
    if "tracestate" in h:
        metadata["tracestate"] = h["tracestate"].decode("utf-8", "replace")
    subject = h.get("ce_subject")
    return RecordedEvent.trusted(
        event_id=event_id.decode("utf-8", "replace"),
        event_type=_text(event_type),
        schema_version=version,
        stream_id=subject.decode("utf-8", "replace") if subject else (key.decode() if key else ""),
        stream_version=streamed,
        position=position,
        recorded_at=when,
        data=data,
        metadata=metadata,
        source=_text(source),
    )

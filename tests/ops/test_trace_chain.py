"""One trace from an HTTP request to the read model that applies its event, across Kafka.

The platform runs in-process in the distributed mode (PostgreSQL, the relay, Kafka, projections
fed by KafkaSource) with an InMemorySpanExporter on the process's tracer provider. The chain:

    HTTP server span (FastAPI instrumentation)
      -> "eventstore.append" (EventStore.append_batch, in the request's context; the stored
         event's `traceparent` is this span's)
        -> "<topic> publish" (Relay, PRODUCER, one per event, parented on the stored traceparent;
           the Kafka message's `traceparent` header is this span's)
          -> "<projection> apply" (ProjectionRunner, CONSUMER, parented on the header)

all in one trace id.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from onecard_service.observability import tracer_provider
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tests.identity.helpers import make_ssn, outcome, register, seed_venue, verify_physical
from tests.support.platform import RunningPlatform
from tests.support.waiting import eventually


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    tracer_provider(extra=processor)
    yield exporter
    processor.shutdown()  # the provider is the process's: stop collecting, keep nothing


REPORTING = "reporting_depth"  # the reporting service's projection


def _one(found: list[ReadableSpan], what: str) -> ReadableSpan:
    assert len(found) == 1, f"{what}: {len(found)} spans {[s.name for s in found]}"
    return found[0]


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def _chain_from(exporter: InMemorySpanExporter, server: ReadableSpan) -> dict[str, Any]:
    """The append, publish and apply spans descending from `server`, waiting for the projection."""
    sid = server.context.span_id

    async def found() -> dict[str, Any] | None:
        done = list(exporter.get_finished_spans())
        appends = [s for s in done if s.name == "eventstore.append" and _parent_id(s) == sid]
        if not appends:
            return None
        append = _one(appends, "eventstore.append under the request")
        publishes = [
            s for s in done if s.kind == SpanKind.PRODUCER and _parent_id(s) == append.context.span_id
        ]
        if not publishes:
            return None
        publish = publishes[0]
        applies = [
            s for s in done if s.kind == SpanKind.CONSUMER and _parent_id(s) == publish.context.span_id
        ]
        if not any(s.attributes and s.attributes["onecard.projection"] == REPORTING for s in applies):
            return None
        return {"append": append, "publishes": publishes, "applies": applies}

    chain: dict[str, Any] = await eventually(found, timeout=60, interval=0.2)
    return chain


def _server_span(exporter: InMemorySpanExporter, method: str, route: str) -> ReadableSpan:
    return _one(
        [
            s
            for s in exporter.get_finished_spans()
            if s.kind == SpanKind.SERVER and s.name == f"{method} {route}"
        ],
        f"server span {method} {route}",
    )


def _assert_chain(server: ReadableSpan, chain: dict[str, Any]) -> None:
    append: ReadableSpan = chain["append"]
    assert append.attributes is not None
    assert append.attributes["onecard.service"] == "identity"
    assert append.attributes["onecard.events"] >= 1
    for publish in chain["publishes"]:
        assert publish.attributes is not None
        assert publish.attributes["messaging.destination.name"].endswith("onecard.identity.v1")
        assert publish.attributes["messaging.message.id"]
    applied = {s.attributes["onecard.projection"] for s in chain["applies"] if s.attributes}
    assert REPORTING in applied, applied
    for publish in chain["publishes"]:
        ids = {s.attributes["messaging.message.id"] for s in chain["applies"] if s.attributes}
        assert publish.attributes is not None and publish.attributes["messaging.message.id"] in ids
    trace_ids = {s.context.trace_id for s in [server, append, *chain["publishes"], *chain["applies"]]}
    assert trace_ids == {server.context.trace_id}, "one trace id from the request to the read model"


async def test_card_registration_is_one_trace_to_the_reporting_projection(
    spans: InMemorySpanExporter, distributed: RunningPlatform
) -> None:
    spans.clear()
    response = await register(distributed, "T00000001", make_ssn(1))
    assert response.status_code == 201, response.text
    server = _server_span(spans, "POST", "/identity/v1/cards")
    _assert_chain(server, await _chain_from(spans, server))


async def test_verification_is_one_trace_to_the_reporting_projection(
    spans: InMemorySpanExporter, distributed: RunningPlatform
) -> None:
    await seed_venue(distributed)
    assert (await register(distributed, "T00000002", make_ssn(2))).status_code == 201
    spans.clear()
    assert await outcome(await verify_physical(distributed, "T00000002", make_ssn(2))) == (True, None)
    server = _server_span(spans, "POST", "/identity/v1/verifications")
    done = list(spans.get_finished_spans())
    appends = [s for s in done if s.name == "eventstore.append"]
    linked = [
        s
        for s in appends
        if _parent_id(s) == server.context.span_id
        or any(link.context.span_id == server.context.span_id for link in s.links)
    ]
    assert linked, "the verification's append is neither a child of the request nor linked to it"
    publishes = await eventually(
        lambda: _async(
            [
                s
                for s in spans.get_finished_spans()
                if s.kind == SpanKind.PRODUCER and s.context.trace_id == server.context.trace_id
            ]
        ),
        timeout=30,
    )
    assert publishes


async def _async(value: Any) -> Any:
    return value

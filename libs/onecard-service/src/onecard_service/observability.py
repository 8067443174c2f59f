"""Structured logs with trace ids, a Prometheus registry per service, OpenTelemetry tracing."""

from __future__ import annotations

import logging
import sys
import time
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import FastAPI
from opentelemetry import trace
from prometheus_client import CollectorRegistry, Counter, Histogram

from .privacy import RedactingFilter

if TYPE_CHECKING:  # the SDK is loaded when traces go somewhere: without it, start-up skips ~0.1 s
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

_configured = False
# One line per request (`onecard.access`): what was asked of which route, by whom, how it ended;
# never the raw path (it may carry a card number), the query, a header or the body.
access_log = logging.getLogger("onecard.access")
ACCESS_FIELDS = ("method", "route", "status", "duration_ms", "client_id")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        span = trace.get_current_span().get_span_context()
        doc: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if span.is_valid:
            doc["trace_id"] = f"{span.trace_id:032x}"
            doc["span_id"] = f"{span.span_id:016x}"
        for key in ("service", "event_type", "stream_id", *ACCESS_FIELDS):
            if hasattr(record, key):
                doc[key] = getattr(record, key)
        if record.exc_info:
            doc["error"] = self.formatException(record.exc_info)
        return orjson.dumps(doc).decode()


def configure_logging(level: str = "INFO") -> None:
    global _configured
    if _configured:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "kafka", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _configured = True


_provider: TracerProvider | None = None


def tracer_provider(otlp_endpoint: str | None = None, extra: SpanProcessor | None = None) -> TracerProvider:
    """The process's tracer provider (one per process, shared by the services it hosts)."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    global _provider
    if _provider is None:
        current = trace.get_tracer_provider()
        if isinstance(current, TracerProvider):
            _provider = current
        else:
            _provider = TracerProvider(resource=Resource.create({"service.name": "onecard"}))
            if otlp_endpoint:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

                _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
            trace.set_tracer_provider(_provider)
    if extra is not None:
        _provider.add_span_processor(extra)
    return _provider


def exporting_tracer_provider(otlp_endpoint: str | None) -> TracerProvider | None:
    """The SDK provider when traces go somewhere (an OTLP endpoint, or a provider someone installed
    already, as the trace tests do); None otherwise. Without one, no span is made anywhere: the
    request middleware and the per-event spans cost a third of a verification's CPU."""
    if otlp_endpoint:
        return tracer_provider(otlp_endpoint)
    if "opentelemetry.sdk.trace" not in sys.modules:
        return None  # nobody installed an SDK provider, since nobody loaded the SDK
    from opentelemetry.sdk.trace import TracerProvider

    if isinstance(trace.get_tracer_provider(), TracerProvider):
        return tracer_provider(otlp_endpoint)
    return None


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.service = service
        self.requests = Counter(
            "onecard_http_requests",
            "HTTP requests",
            ["service", "method", "route", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "onecard_http_request_duration_seconds",
            "HTTP request latency",
            ["service", "method", "route"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )

    def install(self, app: FastAPI) -> None:
        app.add_middleware(_MeasureRequests, metrics=self)


class _MeasureRequests:
    """Counts and times requests by route template, as plain ASGI: Starlette's BaseHTTPMiddleware
    costs a task and a stream per request, which showed on the hot paths."""

    def __init__(self, app: Any, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            # The router leaves the matched route in the scope: label by template, not raw path.
            template = getattr(scope.get("route"), "path", "unmatched")
            seconds = time.perf_counter() - started
            m = self.metrics
            m.requests.labels(m.service, scope["method"], template, str(status)).inc()
            m.latency.labels(m.service, scope["method"], template).observe(seconds)
            if access_log.isEnabledFor(logging.INFO):
                caller = scope.get("onecard.principal")  # set by the edge (edge.py) on protected routes
                access_log.info(
                    "%s %s %d",
                    scope["method"],
                    template,
                    status,
                    extra={
                        "service": m.service,
                        "method": scope["method"],
                        "route": template,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 2),
                        "client_id": getattr(caller, "client_id", None),
                    },
                )

"""Prometheus series of one service: every library metric carries the `service` label."""

from __future__ import annotations

from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

M = TypeVar("M", Counter, Gauge, Histogram)


def per_service(
    kind: type[M], name: str, doc: str, registry: CollectorRegistry, service: str, **kw: Any
) -> M:
    """The `service` child of a metric registered in `registry` (one registry per service)."""
    return kind(name, doc, ["service"], registry=registry, **kw).labels(service)

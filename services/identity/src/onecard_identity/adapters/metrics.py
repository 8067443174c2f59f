"""The identity service's domain counters, in the service's Prometheus registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from ..domain.events import VerificationRecorded


class VerificationMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.total = Counter(
            "onecard_verifications",
            "Card verifications at venues",
            ["method", "result", "reason", "cross_region"],
            registry=registry,
        )

    def observe(self, event: VerificationRecorded) -> None:
        self.total.labels(
            event.method,
            "verified" if event.verified else "refused",
            event.reason or "none",
            "true" if event.cross_region else "false",
        ).inc()

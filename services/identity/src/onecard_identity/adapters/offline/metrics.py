"""Offline taps and their findings, in the identity service's Prometheus registry (operations
alert on `onecard_offline_findings_total`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class OfflineMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.taps = Counter(
            "onecard_offline_taps",
            "Taps uploaded by offline validators, recorded once",
            ["method"],
            registry=registry,
        )
        self.findings = Counter(
            "onecard_offline_findings",
            "Offline taps where the platform's decision and the validator's differ",
            ["finding", "partner"],
            registry=registry,
        )

    def observe(self, method: str, finding: str | None, partner_region: str | None) -> None:
        self.taps.labels(method).inc()
        if finding is not None:
            self.findings.labels(finding, partner_region or "none").inc()

"""The payments service's Prometheus counters (in the service's registry, `runtime.metrics`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class PaymentMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.payments = Counter(
            "onecard_payments", "Payment outcomes and refunds", ["method", "status"], registry=registry
        )

    def count(self, method: str, status: str) -> None:
        self.payments.labels(method, status).inc()

"""Domain counters, in the service's Prometheus registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class DisbursementMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.disbursements = Counter(
            "onecard_disbursements",
            "Payee outcomes reported by the bank",
            ["channel", "outcome"],
            registry=registry,
        )
        self.accepted = Counter("onecard_disbursement_payees_accepted", "Payees accepted", registry=registry)
        self.rejected = Counter(
            "onecard_disbursement_payees_rejected", "Payees rejected", ["reason"], registry=registry
        )
        self.unknown_results = Counter(
            "onecard_disbursement_unknown_results",
            "Bank results for reference ids the service never issued",
            registry=registry,
        )
        self.conflicting_results = Counter(
            "onecard_disbursement_conflicting_results",
            "Bank results contradicting an outcome already recorded",
            registry=registry,
        )

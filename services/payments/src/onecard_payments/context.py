"""Everything a payments handler needs, wired once by bootstrap.build."""

from __future__ import annotations

from dataclasses import dataclass

from onecard_events.database import Database
from onecard_events.store import EventStore
from onecard_service.privacy import PersonalDataKeys
from prometheus_client import CollectorRegistry, Counter

from .config import PaymentsConfig
from .domain.ports import CardBank, CardDirectory, EcardCodeReader


class PaymentMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.payments = Counter(
            "onecard_payments", "Payment outcomes and refunds", ["method", "status"], registry=registry
        )

    def count(self, method: str, status: str) -> None:
        self.payments.labels(method, status).inc()


@dataclass
class PaymentsContext:
    db: Database
    store: EventStore
    keys: PersonalDataKeys
    bank: CardBank
    ecard: EcardCodeReader
    cards: CardDirectory
    config: PaymentsConfig
    metrics: PaymentMetrics

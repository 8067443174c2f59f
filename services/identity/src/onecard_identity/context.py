"""What the identity handlers share: database, store, keys, writer, metrics and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from onecard_events.database import Database
from onecard_events.model import utcnow
from onecard_events.store import EventStore
from onecard_service.privacy import PersonalDataKeys
from prometheus_client import CollectorRegistry, Counter

from .adapters.group_commit import GroupCommitter
from .adapters.keys import KeyRing
from .adapters.venues import VenueTerminals
from .domain.events import VerificationRecorded


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


@dataclass
class Identity:
    db: Database
    store: EventStore
    personal_data: PersonalDataKeys
    keys: KeyRing
    committer: GroupCommitter
    venues: VenueTerminals
    metrics: VerificationMetrics
    region: str
    partners: tuple[str, ...]
    # Tests replace the clock to move e-card codes past their expiry.
    clock: Callable[[], datetime] = field(default=utcnow)

    def now(self) -> datetime:
        return self.clock()

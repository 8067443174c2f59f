"""What the identity handlers share: database, store, keys, writer, metrics and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from onecard_contracts.code_uses import CodeUses
from onecard_contracts.regions import province_code
from onecard_events.database import Database
from onecard_events.store import EventStore
from onecard_events.times import utcnow
from onecard_service.freshness import ViewFreshness
from onecard_service.privacy import PersonalDataKeys

from ..domain.cards import card_subject
from .group_commit import GroupCommitter
from .keys import KeyRing
from .metrics import VerificationMetrics
from .venues import VenueTerminals


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
    # The catalogue view's catch-up, before a refusal that rests on it (unknown venue, terminal).
    views: ViewFreshness
    # Tests replace the clock to move e-card codes past their expiry.
    clock: Callable[[], datetime] = field(default=utcnow)
    # Embedded only: the claim shared with payments, so a code is used once across both (ADR 0012).
    code_uses: CodeUses | None = None

    def now(self) -> datetime:
        return self.clock()

    @property
    def province(self) -> str:
        """Our region's province-level code: the `iss` of the codes we sign."""
        return province_code(self.region)

    def card_key(self, province: str, card_no: str) -> str:
        """Our key of any card (ours or a partner's): a keyed hash of its public subject, so it
        cannot be recomputed from a card number outside the platform."""
        return self.personal_data.keyed_hash(card_subject(province, card_no), "card")

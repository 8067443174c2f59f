"""The `Snapshot`: the aggregated facts every report is computed from (no I/O).

`adapters.queries.load_snapshot` counts them in SQL, per item and jurisdiction; the reports
(`domain.depth`) then only add up, pick catalogue versions and apply the level rules, so a request
never scans the fact tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

ACTIVE_WINDOW = timedelta(days=30)
Key = tuple[str, str]


@dataclass(frozen=True)
class VenueFacts:
    venues: int = 0
    accepting: int = 0
    physical: int = 0
    electronic: int = 0
    active: int = 0

    def __add__(self, other: VenueFacts) -> VenueFacts:
        return VenueFacts(*(a + b for a, b in zip(self.astuple(), other.astuple(), strict=True)))

    def astuple(self) -> tuple[int, int, int, int, int]:
        return (self.venues, self.accepting, self.physical, self.electronic, self.active)


@dataclass(frozen=True)
class MerchantFacts:
    merchants: int = 0
    agreement: int = 0

    def __add__(self, other: MerchantFacts) -> MerchantFacts:
        return MerchantFacts(self.merchants + other.merchants, self.agreement + other.agreement)


@dataclass(frozen=True)
class PaymentFirsts:
    card_account_at: datetime | None = None
    ecard_at: datetime | None = None
    agreement_ecard_at: datetime | None = None

    def __add__(self, other: PaymentFirsts) -> PaymentFirsts:
        return PaymentFirsts(
            _earliest(self.card_account_at, other.card_account_at),
            _earliest(self.ecard_at, other.ecard_at),
            _earliest(self.agreement_ecard_at, other.agreement_ecard_at),
        )


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return min((x for x in (a, b) if x is not None), default=None)


ItemVersion = tuple[datetime, int, bool, dict[str, Any]]


@dataclass
class Snapshot:
    as_of: datetime
    now: datetime
    items: dict[str, list[ItemVersion]] = field(default_factory=dict)
    venues: dict[Key, VenueFacts] = field(default_factory=dict)
    merchants: dict[Key, MerchantFacts] = field(default_factory=dict)
    payments: dict[Key, PaymentFirsts] = field(default_factory=dict)
    # (item, jurisdiction, year) -> (card-account beneficiaries, paid beneficiaries); the
    # jurisdiction "500000*" holds the municipal roll-up (distinct across districts).
    beneficiaries: dict[tuple[str, str, int], tuple[int, int]] = field(default_factory=dict)
    # (partner, direction, item, jurisdiction) -> uses
    uses: dict[tuple[str, str, str, str], int] = field(default_factory=dict)

    # per item: the jurisdictions with figures (filled by `index`)
    by_item: dict[str, set[str]] = field(default_factory=dict)
    # memo of computed reports (a snapshot never changes once loaded)
    memo: dict[Any, Any] = field(default_factory=dict)

    def index(self) -> Snapshot:
        for keys in (self.venues, self.merchants, self.payments):
            for i, j in keys:
                self.by_item.setdefault(i, set()).add(j)
        for i, j, _ in self.beneficiaries:
            if not j.endswith("*"):
                self.by_item.setdefault(i, set()).add(j)
        return self

    def jurisdictions_of(self, item_id: str) -> set[str]:
        return self.by_item.get(item_id, set())


ROLLUP = "500000*"

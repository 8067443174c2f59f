"""What a payments handler is given: settings, the store, the ports, wired once by bootstrap.build.

Only handlers (and the layers above them) use it, so it lives here; adapters need none of it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from onecard_contracts.code_uses import CodeUses
from onecard_events.database import Database
from onecard_events.store import EventStore
from onecard_service.freshness import ViewFreshness
from onecard_service.privacy import PersonalDataKeys

from ..adapters.metrics import PaymentMetrics
from ..domain.ports import CardBank, CardDirectory, EcardCodeReader

if TYPE_CHECKING:
    from .payment_batches import PaymentWrites


@dataclass(frozen=True)
class PaymentsConfig:
    """Payments settings from the environment (ONECARD_PAYMENTS_*; the simulated bank reads
    ONECARD_SIMBANK_*, see adapters/simulated_bank.py)."""

    # How long one bank call may take before its outcome counts as unknown.
    bank_timeout_s: float = 5.0
    # Status queries after an unknown outcome, and the pause between them.
    status_attempts: int = 3
    status_interval_s: float = 0.2
    # The recovery worker's period, and how old an unfinished payment must be before it acts.
    recovery_interval_s: float = 1.0
    recover_after_s: float = 30.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> PaymentsConfig:
        e = dict(os.environ if env is None else env)
        return cls(
            bank_timeout_s=int(e.get("ONECARD_PAYMENTS_BANK_TIMEOUT_MS", "5000")) / 1000,
            status_attempts=int(e.get("ONECARD_PAYMENTS_STATUS_ATTEMPTS", "3")),
            recovery_interval_s=int(e.get("ONECARD_PAYMENTS_RECOVERY_INTERVAL_MS", "1000")) / 1000,
            recover_after_s=int(e.get("ONECARD_PAYMENTS_RECOVER_AFTER_MS", "30000")) / 1000,
        )


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
    # The catalogue and identity views' catch-up, before a refusal that rests on them.
    views: ViewFreshness
    # Embedded only: the claim shared with identity, so a code is used once across both (ADR 0012).
    code_uses: CodeUses | None = None
    # The group commits of payments' two units of work (payment_batches.py), made from this context.
    writes: PaymentWrites = field(init=False)

    def __post_init__(self) -> None:
        from .payment_batches import PaymentWrites  # it takes this context: built after it

        self.writes = PaymentWrites(self)

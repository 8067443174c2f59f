"""What the payments domain needs from the outside: the card bank and the e-card wallet.

Both are protocols so the decision logic never knows whether it talks to a real bank or to the
bundled simulation (`adapters/`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol


class BankOutcome(StrEnum):
    APPROVED = "approved"
    DECLINED = "declined"
    # The bank did not answer in time: the debit may or may not have happened.
    UNKNOWN = "unknown"
    # Only from `status`: the bank has no record of the reference (the debit never arrived).
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class BankResult:
    outcome: BankOutcome
    reason: str | None = None


class CardBank(Protocol):
    """The bank behind the card's financial account. Every call carries our reference, and the
    bank applies a reference at most once: re-sending a debit can never take the money twice."""

    async def debit(self, account_ref: str, amount_fen: int, idempotency_ref: str) -> BankResult: ...

    async def status(self, idempotency_ref: str) -> BankResult: ...

    async def refund(
        self, account_ref: str, amount_fen: int, idempotency_ref: str, original_ref: str
    ) -> BankResult: ...


@dataclass(frozen=True)
class EcardHolder:
    """The payer behind an e-card code: pseudonymous key, issuing region, account reference."""

    payer_key: str
    issuer_region: str
    account_ref: str


@dataclass(frozen=True)
class EcardRefusal:
    reason: str  # qr_expired, qr_reused, qr_bad_signature, qr_malformed


class EcardCodeReader(Protocol):
    """Verifies a dynamic e-card code (signature, expiry, single use) and names its payer."""

    async def read(self, qr: str) -> EcardHolder | EcardRefusal: ...

"""What the payments domain needs from the outside: the card bank and the e-card code reader.

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
    """The payer behind an e-card code: pseudonymous key, issuing region, account reference, and
    the code's nonce (the keyed hash of its `iss:jti`, ADR 0012), which the payment's unit of work
    consumes (`payment_rows.consume_nonce`)."""

    payer_key: str
    issuer_region: str
    account_ref: str
    nonce: str


@dataclass(frozen=True)
class EcardRefusal:
    # qr_malformed, qr_bad_signature, qr_expired; with a nonce (the code itself was good, so it
    # still counts as used): unknown_card, card_lost, card_cancelled, no_ecard, no_card_account.
    reason: str
    nonce: str | None = None


@dataclass(frozen=True)
class CardState:
    """Payments' view of one of our region's cards, projected from identity's events."""

    status: str  # active, lost, cancelled
    ecard: bool


class EcardCodeReader(Protocol):
    """Verifies a dynamic e-card code (signature, expiry) and names its payer. Single use is the
    payment's own write: `adapters.payment_rows.consume_nonce`, in the unit of work that records
    the payment."""

    async def read(self, qr: str) -> EcardHolder | EcardRefusal: ...


class CardDirectory(Protocol):
    """Our region's cards as identity registered them (payments keeps a view of its events)."""

    async def card_state(self, card_no: str, issuer_region: str) -> CardState | None:
        """The status of one of our cards named by number (None: not one identity registered)."""
        ...

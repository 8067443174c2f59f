"""The bill aggregate: one stream per bill holds its opening, its payment attempts and refunds.

Keeping payments inside the bill's stream is what makes "settled at most once" hold: every
decision is appended with the version the decision was taken on, so two racing payment
requests cannot both start (the loser gets a concurrency error and sees the bill taken).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from onecard_events.model import DomainEvent

from .events import (
    BillOpened,
    Method,
    PaymentDeclined,
    PaymentInitiated,
    PaymentRefunded,
    PaymentSettled,
)

MAX_AMOUNT_FEN = 10**12
"""Upper bound of any amount: 10 billion yuan, far above any fee, far below a 64-bit overflow."""


class PaymentRefused(Exception):
    """A command the bill's state does not allow; `field` names the offending input, if any."""

    def __init__(self, code: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.field = field


@dataclass(frozen=True)
class Payer:
    """Who pays, pseudonymously; all None for method "other" (paid outside the card)."""

    payer_key: str | None = None
    issuer_region: str | None = None
    cross_region: bool = False


@dataclass(frozen=True)
class Payment:
    payment_id: str
    method: Method
    amount_fen: int
    bank_ref: str | None
    payer: Payer
    agreement_merchant: bool
    status: str = "initiated"
    reason: str | None = None
    refunded_fen: int = 0

    @property
    def refundable_fen(self) -> int:
        return self.amount_fen - self.refunded_fen if self.status == "settled" else 0


@dataclass
class Bill:
    bill_id: str
    merchant_id: str = ""
    item_id: str = ""
    jurisdiction: str = ""
    bill_ref: str = ""
    amount_fen: int = 0
    opened: bool = False
    payments: dict[str, Payment] = field(default_factory=dict)

    # -- state ---------------------------------------------------------------------------------

    @classmethod
    def replay(cls, bill_id: str, history: Sequence[DomainEvent]) -> Bill:
        bill = cls(bill_id)
        for event in history:
            bill.apply(event)
        return bill

    def apply(self, event: DomainEvent) -> None:
        match event:
            case BillOpened():
                self.merchant_id, self.item_id = event.merchant_id, event.item_id
                self.jurisdiction, self.bill_ref = event.jurisdiction, event.bill_ref
                self.amount_fen, self.opened = event.amount_fen, True
            case PaymentInitiated():
                payer = Payer(event.payer_key, event.issuer_region, event.cross_region)
                self.payments[event.payment_id] = Payment(
                    event.payment_id,
                    event.method,
                    event.amount_fen,
                    event.bank_ref,
                    payer,
                    event.agreement_merchant,
                )
            case PaymentSettled():
                self._update(event.payment_id, status="settled")
            case PaymentDeclined():
                self._update(event.payment_id, status="declined", reason=event.reason)
            case PaymentRefunded():
                paid = self.payments[event.payment_id]
                self._update(event.payment_id, refunded_fen=paid.refunded_fen + event.amount_fen)

    def _update(self, payment_id: str, **changes: object) -> None:
        self.payments[payment_id] = replace(self.payments[payment_id], **changes)  # type: ignore[arg-type]

    @property
    def status(self) -> str:
        """open, settled (a payment settled), or paying (an attempt awaits the bank)."""
        states = {p.status for p in self.payments.values()}
        if "settled" in states:
            return "settled"
        return "paying" if "initiated" in states else "open"

    def payment(self, payment_id: str) -> Payment:
        return self.payments[payment_id]

    # -- decisions -----------------------------------------------------------------------------

    def initiate(
        self,
        payment_id: str,
        method: Method,
        bank_ref: str | None,
        payer: Payer,
        agreement_merchant: bool,
        at: str,
    ) -> PaymentInitiated:
        if self.status == "settled":
            raise PaymentRefused("bill_settled", f"bill {self.bill_id} is already paid")
        if self.status == "paying":
            raise PaymentRefused("payment_in_progress", f"a payment of bill {self.bill_id} is in progress")
        return PaymentInitiated(
            payment_id=payment_id,
            bill_id=self.bill_id,
            method=method,
            amount_fen=self.amount_fen,
            bank_ref=bank_ref,
            payer_key=payer.payer_key,
            issuer_region=payer.issuer_region,
            cross_region=payer.cross_region,
            agreement_merchant=agreement_merchant,
            initiated_at=at,
        )

    def settle(self, payment_id: str, at: str) -> PaymentSettled | None:
        """The settled event, or None when the outcome is recorded already (a recovery raced us)."""
        p = self.payments[payment_id]
        if p.status != "initiated":
            return None
        return PaymentSettled(
            payment_id=payment_id,
            bill_id=self.bill_id,
            merchant_id=self.merchant_id,
            item_id=self.item_id,
            jurisdiction=self.jurisdiction,
            method=p.method,
            amount_fen=p.amount_fen,
            payer_key=p.payer.payer_key,
            issuer_region=p.payer.issuer_region,
            cross_region=p.payer.cross_region,
            agreement_merchant=p.agreement_merchant,
            settled_at=at,
        )

    def decline(self, payment_id: str, reason: str, at: str) -> PaymentDeclined | None:
        p = self.payments[payment_id]
        if p.status != "initiated":
            return None
        return PaymentDeclined(
            payment_id=payment_id,
            bill_id=self.bill_id,
            merchant_id=self.merchant_id,
            item_id=self.item_id,
            jurisdiction=self.jurisdiction,
            method=p.method,
            amount_fen=p.amount_fen,
            reason=reason,
            declined_at=at,
        )

    def refund(self, payment_id: str, refund_id: str, amount_fen: int, at: str) -> PaymentRefunded:
        p = self.payments[payment_id]
        if p.status != "settled":
            raise PaymentRefused(
                "not_settled", f"payment {payment_id} is {p.status}; only settled ones refund"
            )
        if amount_fen > p.refundable_fen:
            raise PaymentRefused(
                "over_refund",
                f"at most {p.refundable_fen} fen of this payment can still be refunded",
                field="amount_fen",
            )
        return PaymentRefunded(
            payment_id=payment_id,
            refund_id=refund_id,
            merchant_id=self.merchant_id,
            item_id=self.item_id,
            jurisdiction=self.jurisdiction,
            method=p.method,
            amount_fen=amount_fen,
            refunded_at=at,
            bill_id=self.bill_id,
        )


def open_bill(
    bill_id: str,
    merchant_id: str,
    item_id: str,
    jurisdiction: str,
    bill_ref: str,
    amount_fen: int,
    description: str,
    at: str,
) -> BillOpened:
    if not 0 < amount_fen <= MAX_AMOUNT_FEN:
        raise PaymentRefused("bad_amount", f"amount must be 1..{MAX_AMOUNT_FEN} fen", field="amount_fen")
    return BillOpened(
        bill_id=bill_id,
        merchant_id=merchant_id,
        item_id=item_id,
        jurisdiction=jurisdiction,
        bill_ref=bill_ref,
        amount_fen=amount_fen,
        opened_at=at,
        description=description,
    )


def is_cross_region(issuer_region: str | None, merchant_jurisdiction: str) -> bool:
    """Cross-region when the card's issuing province differs from the merchant's (first 2 digits)."""
    return issuer_region is not None and issuer_region[:2] != merchant_jurisdiction[:2]

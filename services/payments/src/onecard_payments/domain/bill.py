"""The bill aggregate: one stream per bill holds its opening, its payment attempts and refunds.

Keeping payments inside the bill's stream is what makes "settled at most once" hold: every
decision is appended with the version the decision was taken on, so two racing payment
requests cannot both start (the loser gets a concurrency error and sees the bill taken).

Decisions (`open`, `initiate`, `settle`, `decline`, `refund`) check the rules against the state,
then `trigger` the event: it is applied at once and kept for the unit of work to append. A rule
broken is a `Refused` (onecard_events.aggregate), which the HTTP edge maps to problem+json.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from onecard_events.aggregate import Aggregate, Refused
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


def invalid_input(field: str, message: str) -> Refused:
    """A refusal of one input field: 422, shaped like the edge's own validation errors."""
    return Refused(f"{field}: {message}", status=422, errors=[(field, message)])


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
class Bill(Aggregate):
    bill_id: str
    merchant_id: str = ""
    item_id: str = ""
    jurisdiction: str = ""
    bill_ref: str = ""
    amount_fen: int = 0
    opened: bool = False
    payments: dict[str, Payment] = field(default_factory=dict)

    # -- state ---------------------------------------------------------------------------------

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

    def open(
        self,
        merchant_id: str,
        item_id: str,
        jurisdiction: str,
        bill_ref: str,
        amount_fen: int,
        description: str,
        at: str,
    ) -> BillOpened:
        if self.opened:
            raise Refused(f"bill {self.bill_id} is open already", code="bill_exists")
        if not 0 < amount_fen <= MAX_AMOUNT_FEN:
            raise invalid_input("amount_fen", f"amount must be 1..{MAX_AMOUNT_FEN} fen")
        return self.trigger(
            BillOpened(
                bill_id=self.bill_id,
                merchant_id=merchant_id,
                item_id=item_id,
                jurisdiction=jurisdiction,
                bill_ref=bill_ref,
                amount_fen=amount_fen,
                opened_at=at,
                description=description,
            )
        )

    def initiate(
        self,
        payment_id: str,
        method: Method,
        bank_ref: str | None,
        payer: Payer,
        agreement_merchant: bool,
        at: str,
        code_use: str | None = None,
    ) -> PaymentInitiated:
        if refused := self.initiation_refusal():
            raise refused
        return self.trigger(
            PaymentInitiated(
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
                code_use=code_use,
            )
        )

    def initiation_refusal(self, *, taken: bool = False) -> Refused | None:
        """Why no payment can start now, or None. `taken`: another payment decided with this one
        (in the same batch) starts first."""
        if self.status == "settled":
            return Refused(f"bill {self.bill_id} is already paid", code="bill_settled")
        if self.status == "paying" or taken:
            return Refused(f"a payment of bill {self.bill_id} is in progress", code="payment_in_progress")
        return None

    def settle(self, payment_id: str, at: str) -> PaymentSettled | None:
        """The settled event, or None when the outcome is recorded already (a recovery raced us)."""
        p = self.payments[payment_id]
        if p.status != "initiated":
            return None
        return self.trigger(
            PaymentSettled(
                **self._outcome_of(p),
                payer_key=p.payer.payer_key,
                issuer_region=p.payer.issuer_region,
                cross_region=p.payer.cross_region,
                agreement_merchant=p.agreement_merchant,
                settled_at=at,
            )
        )

    def decline(self, payment_id: str, reason: str, at: str) -> PaymentDeclined | None:
        """The declined event, or None when the outcome is recorded already."""
        p = self.payments[payment_id]
        if p.status != "initiated":
            return None
        return self.trigger(PaymentDeclined(**self._outcome_of(p), reason=reason, declined_at=at))

    def refund(self, payment_id: str, refund_id: str, amount_fen: int, at: str) -> PaymentRefunded:
        p = self.payments[payment_id]
        if p.status != "settled":
            raise Refused(f"payment {payment_id} is {p.status}; only settled ones refund", code="not_settled")
        if amount_fen > p.refundable_fen:
            raise invalid_input(
                "amount_fen", f"at most {p.refundable_fen} fen of this payment can still be refunded"
            )
        return self.trigger(
            PaymentRefunded(
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
        )

    def _outcome_of(self, p: Payment) -> dict[str, Any]:
        """The fields every outcome event of payment `p` carries (events.PaymentOutcome)."""
        return {
            "payment_id": p.payment_id,
            "bill_id": self.bill_id,
            "merchant_id": self.merchant_id,
            "item_id": self.item_id,
            "jurisdiction": self.jurisdiction,
            "method": p.method,
            "amount_fen": p.amount_fen,
        }

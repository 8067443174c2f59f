"""Payments events. Public: reporting computes payment depth and reconciliation from them.

Payer references are keyed hashes (`payer_key`), never a card number, ssn or name.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from onecard_events.model import DomainEvent
from onecard_events.registry import EventRegistry

Method = Literal["card_account", "ecard", "other"]

registry = EventRegistry()


@registry.register
class BillOpened(DomainEvent):
    event_type: ClassVar[str] = "onecard.payments.bill_opened"
    bill_id: str
    merchant_id: str
    item_id: str
    jurisdiction: str
    bill_ref: str
    amount_fen: int
    opened_at: str
    description: str = ""


@registry.register
class PaymentInitiated(DomainEvent):
    """Recorded before the bank is called, so a crash can never lead to a second debit.

    Beyond the contract's fields it carries what the outcome event needs, so that a recovery
    worker can settle the payment without the request that started it.
    """

    event_type: ClassVar[str] = "onecard.payments.payment_initiated"
    payment_id: str
    bill_id: str
    method: Method
    amount_fen: int
    bank_ref: str | None
    payer_key: str | None = None
    issuer_region: str | None = None
    cross_region: bool = False
    agreement_merchant: bool = False
    initiated_at: str = ""
    # The e-card code this payment used up: the keyed hash of its `iss:jti` (ADR 0012), which
    # identity projects into its nonce table; None for other methods and for a replayed code.
    code_use: str | None = None


class PaymentOutcome(DomainEvent):
    """What a settled and a declined payment both say (not an event type of its own)."""

    payment_id: str
    bill_id: str
    merchant_id: str
    item_id: str
    jurisdiction: str
    method: Method
    amount_fen: int


@registry.register
class PaymentSettled(PaymentOutcome):
    event_type: ClassVar[str] = "onecard.payments.payment_settled"
    payer_key: str | None
    issuer_region: str | None
    cross_region: bool
    agreement_merchant: bool
    settled_at: str


@registry.register
class PaymentDeclined(PaymentOutcome):
    event_type: ClassVar[str] = "onecard.payments.payment_declined"
    reason: str
    declined_at: str


@registry.register
class PaymentRefunded(DomainEvent):
    event_type: ClassVar[str] = "onecard.payments.payment_refunded"
    payment_id: str
    refund_id: str
    merchant_id: str
    item_id: str
    jurisdiction: str
    method: Method
    amount_fen: int
    refunded_at: str
    bill_id: str = ""

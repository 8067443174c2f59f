"""Commands the handlers accept, already parsed and validated at the edge."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OpenBill:
    merchant_id: str
    bill_ref: str
    amount_fen: int
    description: str = ""


@dataclass(frozen=True, repr=False)
class PayByCard:
    """The card as a terminal read it. repr is off so a traceback cannot print the ssn or name."""

    card_no: str
    ssn: str
    name: str
    issuer_region: str


@dataclass(frozen=True, repr=False)
class PayByEcard:
    qr: str


@dataclass(frozen=True)
class PayOther:
    """Paid outside the card (cash, another bank card): recorded, settled without the card bank."""


PayCommand = PayByCard | PayByEcard | PayOther

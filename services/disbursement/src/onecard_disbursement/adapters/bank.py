"""What the service needs from a bank: take a payment order, report what it did.

Results come back asynchronously through `ResultSink` (the same handler that serves
`POST /disbursement/v1/bank-results`), so a real bank's callback and the simulated bank
travel the same path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..domain.settlement import Result


@dataclass(frozen=True)
class Instruction:
    reference_id: str
    beneficiary_key: str
    amount_fen: int
    channel: str
    # card_no and name, sealed with the platform's personal-data key (context: reference_id):
    # a real bank adapter opens it at the edge; the simulated bank never needs to.
    account_sealed: str


@dataclass(frozen=True)
class PaymentOrder:
    batch_id: str
    instructions: Sequence[Instruction]


ResultSink = Callable[[Sequence[Result]], Awaitable[object]]


class DisbursementBank(Protocol):
    async def submit(self, order: PaymentOrder) -> None:
        """Take the order. Must be idempotent per reference_id: an order is re-sent after a crash."""

    async def statement(self, batch_id: str) -> dict[str, Result]:
        """The bank's own record of the batch's outcomes so far (for reconciliation)."""

"""Refunding a settled payment, partly or fully, never beyond what was paid.

The refund is decided and recorded at the bill's version (so two refunds cannot together exceed
the payment); the credit to the card account follows, under the refund's own reference, and the
recovery worker re-sends it until the bank confirms.
"""

from __future__ import annotations

import logging
from typing import Any

from onecard_events.times import now_rfc3339
from onecard_service.auth import Principal
from onecard_service.problems import conflict
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from ..adapters import payment_rows
from ..domain.bill import Bill
from ..domain.ports import BankOutcome
from . import bank
from .common import Idempotency, Reply, authorise, bill_stream, new_id, payment_row
from .context import PaymentsContext

log = logging.getLogger(__name__)


async def refund_payment(
    ctx: PaymentsContext, caller: Principal, payment_id: str, amount_fen: int, key: str | None
) -> Reply:
    paid = await payment_row(ctx, payment_id)
    authorise(caller, paid.merchant_id)
    idem = Idempotency.of(caller, key, {"op": f"refund:{payment_id}", "amount_fen": amount_fen})
    if stored := await idem.replay(ctx):
        return stored
    refund_id = new_id("rfd")
    bank_status = "pending" if paid.bank_ref else "not_applicable"
    try:
        async with ctx.store.unit_of_work() as uow:
            bill = await uow.get(bill_stream(paid.bill_id), Bill(paid.bill_id))
            refunded = bill.refund(payment_id, refund_id, amount_fen, now_rfc3339())
            await payment_rows.record_refund(uow.connection, refunded, bank_status)
            reply = _reply(refund_id, payment_id, amount_fen, bill.payment(payment_id).refunded_fen)
            await idem.remember(uow.connection, reply)
            await uow.save()
    except IntegrityError:
        raise conflict("a request with this Idempotency-Key is already being handled") from None
    ctx.metrics.count(refunded.method, "refunded")
    if bank_status == "pending":
        await credit_card_account(ctx, refund_id, paid, amount_fen)
    return reply


def _reply(refund_id: str, payment_id: str, amount_fen: int, refunded_fen: int) -> Reply:
    return 201, {
        "refund_id": refund_id,
        "payment_id": payment_id,
        "amount_fen": amount_fen,
        "refunded_fen": refunded_fen,
        "status": "refunded",
    }


async def credit_card_account(ctx: PaymentsContext, refund_id: str, paid: Row[Any], amount_fen: int) -> None:
    """Send the credit; left pending (for the recovery worker) when the bank does not confirm."""
    result = await bank.refund(ctx, paid.account_ref, amount_fen, refund_id, paid.bank_ref)
    if result.outcome is BankOutcome.UNKNOWN:
        return
    if result.outcome is BankOutcome.DECLINED:
        log.error("bank refused refund %s (%s); needs an operator", refund_id, result.reason)
    async with ctx.store.unit_of_work() as uow:
        done = "done" if result.outcome is BankOutcome.APPROVED else "failed"
        await payment_rows.set_refund_bank_status(uow.connection, refund_id, done)
        await uow.save()

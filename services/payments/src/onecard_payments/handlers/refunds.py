"""Refunding a settled payment, partly or fully, never beyond what was paid.

The refund is decided and recorded at the bill's version (so two refunds cannot together exceed
the payment); the credit to the card account follows, under the refund's own reference, and the
recovery worker re-sends it until the bank confirms.
"""

from __future__ import annotations

import logging
from typing import Any

from onecard_service.auth import Principal
from onecard_service.idempotency import remember, request_hash
from onecard_service.problems import conflict, invalid
from sqlalchemy import update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from .. import rows
from ..context import PaymentsContext
from ..domain.model import Bill, PaymentRefused
from ..domain.ports import BankOutcome
from ..tables import refunds
from . import bank
from .common import Reply, authorise, bill_stream, idem_scope, new_id, now_rfc3339, payment_row, replay

log = logging.getLogger(__name__)


async def refund_payment(
    ctx: PaymentsContext, caller: Principal, payment_id: str, amount_fen: int, key: str | None
) -> Reply:
    paid = await payment_row(ctx, payment_id)
    authorise(caller, paid.merchant_id)
    scope = idem_scope(caller)
    digest = request_hash({"op": f"refund:{payment_id}", "amount_fen": amount_fen})
    if stored := await replay(ctx, scope, key, digest):
        return stored
    refund_id = new_id("rfd")
    bank_status = "pending" if paid.bank_ref else "not_applicable"
    try:
        async with ctx.db.engine.begin() as conn:
            history, version = await ctx.store.load(conn, bill_stream(paid.bill_id))
            bill = Bill.replay(paid.bill_id, history)
            event = bill.refund(payment_id, refund_id, amount_fen, now_rfc3339())
            await ctx.store.append(conn, bill_stream(paid.bill_id), [event], expected_version=version)
            await rows.record_refund(conn, event, bank_status)
            refunded = bill.payment(payment_id).refunded_fen + amount_fen
            reply = _reply(refund_id, payment_id, amount_fen, refunded)
            if key is not None:
                await remember(conn, scope, key, digest, 201, reply)
    except PaymentRefused as refused:
        if refused.field:
            raise invalid(refused.field, refused.detail) from None
        raise conflict(refused.detail, code=refused.code) from None
    except IntegrityError:
        raise conflict("a request with this Idempotency-Key is already being handled") from None
    ctx.metrics.count(event.method, "refunded")
    if bank_status == "pending":
        await credit_card_account(ctx, refund_id, paid, amount_fen)
    return 201, reply


def _reply(refund_id: str, payment_id: str, amount_fen: int, refunded_fen: int) -> dict[str, Any]:
    return {
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
    async with ctx.db.engine.begin() as conn:
        await conn.execute(
            update(refunds)
            .where(refunds.c.refund_id == refund_id)
            .values(bank_status="done" if result.outcome is BankOutcome.APPROVED else "failed")
        )

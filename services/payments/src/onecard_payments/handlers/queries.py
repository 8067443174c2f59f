"""Reads: a payment, a bill, and the merchants' daily reconciliation."""

from __future__ import annotations

from typing import Any

from onecard_service.auth import Principal
from onecard_service.problems import Problem
from sqlalchemy import select

from ..context import PaymentsContext
from ..tables import payments, reconciliation, refunds
from .common import authorise, bill_row, payment_row

_PAYMENT_FIELDS = (
    "payment_id",
    "bill_id",
    "merchant_id",
    "method",
    "amount_fen",
    "status",
    "reason",
    "refunded_fen",
    "cross_region",
    "agreement_merchant",
    "initiated_at",
    "finished_at",
)


async def get_payment(ctx: PaymentsContext, caller: Principal, payment_id: str) -> dict[str, Any]:
    row = await payment_row(ctx, payment_id)
    authorise(caller, row.merchant_id)
    async with ctx.db.engine.connect() as conn:
        refund_rows = (
            await conn.execute(
                select(refunds.c.refund_id, refunds.c.amount_fen, refunds.c.refunded_at)
                .where(refunds.c.payment_id == payment_id)
                .order_by(refunds.c.refunded_at)
            )
        ).mappings()
        listed = [dict(r) for r in refund_rows]
    return {**{f: getattr(row, f) for f in _PAYMENT_FIELDS}, "refunds": listed}


async def get_bill(ctx: PaymentsContext, caller: Principal, bill_id: str) -> dict[str, Any]:
    row = await bill_row(ctx, bill_id)
    authorise(caller, row.merchant_id)
    async with ctx.db.engine.connect() as conn:
        attempts = (
            await conn.execute(
                select(payments.c.payment_id, payments.c.method, payments.c.status, payments.c.reason)
                .where(payments.c.bill_id == bill_id)
                .order_by(payments.c.initiated_ms)
            )
        ).mappings()
        listed = [dict(a) for a in attempts]
    return {
        "bill_id": row.bill_id,
        "merchant_id": row.merchant_id,
        "bill_ref": row.bill_ref,
        "amount_fen": row.amount_fen,
        "status": row.status,
        "opened_at": row.opened_at,
        "payments": listed,
    }


async def reconcile(
    ctx: PaymentsContext, caller: Principal, day: str, merchant_id: str | None
) -> dict[str, Any]:
    if merchant_id is not None:
        authorise(caller, merchant_id)
    elif not caller.is_staff and not caller.merchants:
        raise Problem(403, "no merchant in this client's scope")
    query = select(reconciliation).where(reconciliation.c.day == day).order_by(reconciliation.c.merchant_id)
    if merchant_id is not None:
        query = query.where(reconciliation.c.merchant_id == merchant_id)
    elif not caller.is_staff:
        query = query.where(reconciliation.c.merchant_id.in_(sorted(caller.merchants)))
    async with ctx.db.engine.connect() as conn:
        found = (await conn.execute(query)).mappings().all()
    return {"date": day, "merchants": [_totals(r) for r in found]}


def _totals(r: Any) -> dict[str, Any]:
    return {
        "merchant_id": r["merchant_id"],
        "settled_count": r["settled_count"],
        "settled_fen": r["settled_fen"],
        "refunded_fen": r["refunded_fen"],
        "net_fen": r["settled_fen"] - r["refunded_fen"],
    }

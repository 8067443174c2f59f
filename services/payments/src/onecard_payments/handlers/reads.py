"""Reads: a payment, a bill, and the merchants' daily reconciliation (scope checked here, the
queries themselves in adapters/queries.py)."""

from __future__ import annotations

from typing import Any

from onecard_service.auth import Principal
from onecard_service.problems import Problem

from ..adapters import queries
from .common import authorise, bill_row, payment_row
from .context import PaymentsContext

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
_BILL_FIELDS = ("bill_id", "merchant_id", "bill_ref", "amount_fen", "status", "opened_at")


async def get_payment(ctx: PaymentsContext, caller: Principal, payment_id: str) -> dict[str, Any]:
    row = await payment_row(ctx, payment_id)
    authorise(caller, row.merchant_id)
    listed = await queries.refunds_of(ctx.db, payment_id)
    return {**{f: getattr(row, f) for f in _PAYMENT_FIELDS}, "refunds": listed}


async def get_bill(ctx: PaymentsContext, caller: Principal, bill_id: str) -> dict[str, Any]:
    row = await bill_row(ctx, bill_id)
    authorise(caller, row.merchant_id)
    listed = await queries.attempts_of(ctx.db, bill_id)
    return {**{f: getattr(row, f) for f in _BILL_FIELDS}, "payments": listed}


async def reconcile(
    ctx: PaymentsContext, caller: Principal, day: str, merchant_id: str | None
) -> dict[str, Any]:
    if merchant_id is not None:
        authorise(caller, merchant_id)
        merchants: list[str] | None = [merchant_id]
    elif caller.is_staff:
        merchants = None
    elif caller.merchants:
        merchants = sorted(caller.merchants)
    else:
        raise Problem(403, "no merchant in this client's scope")
    found = await queries.day_totals(ctx.db, day, merchants)
    return {"date": day, "merchants": [_totals(r) for r in found]}


def _totals(r: Any) -> dict[str, Any]:
    return {
        "merchant_id": r["merchant_id"],
        "settled_count": r["settled_count"],
        "settled_fen": r["settled_fen"],
        "refunded_fen": r["refunded_fen"],
        "net_fen": r["settled_fen"] - r["refunded_fen"],
    }

"""Finishing what a crash or a silent bank left unfinished.

Payments recorded as initiated (the request died, or the bank's answer never came) are resolved
by a status query; if the bank never saw the debit, it is sent again under the same reference,
which the bank applies at most once, so there is never a second debit. Refund credits still
pending at the bank are re-sent the same way.
"""

from __future__ import annotations

import asyncio
import logging
import time

from onecard_events.leadership import leadership
from onecard_events.waiting import wait_or_stop
from sqlalchemy import select

from ..context import PaymentsContext
from ..domain.ports import BankOutcome
from ..tables import payments, refunds
from . import bank
from .pay import finish
from .refunds import credit_card_account

log = logging.getLogger(__name__)
BATCH = 100


async def recover_payments(ctx: PaymentsContext, older_than_s: float | None = None) -> int:
    """Resolve initiated payments older than `older_than_s`; returns how many were finished."""
    age = ctx.config.recover_after_s if older_than_s is None else older_than_s
    cutoff = int((time.time() - age) * 1000)
    async with ctx.db.engine.connect() as conn:
        stuck = (
            await conn.execute(
                select(payments)
                .where(payments.c.status == "initiated", payments.c.initiated_ms <= cutoff)
                .order_by(payments.c.initiated_ms)
                .limit(BATCH)
            )
        ).all()
    finished = 0
    for row in stuck:
        result = await bank.status(ctx, row.bank_ref)
        if result.outcome is BankOutcome.NOT_FOUND:
            result = await bank.debit(ctx, row.account_ref, row.amount_fen, row.bank_ref)
        if result.outcome in (BankOutcome.APPROVED, BankOutcome.DECLINED):
            await finish(ctx, row.bill_id, row.payment_id, result)
            finished += 1
            log.info("recovered payment %s: %s", row.payment_id, result.outcome.value)
    return finished


async def recover_refunds(ctx: PaymentsContext) -> int:
    async with ctx.db.engine.connect() as conn:
        pending = (
            await conn.execute(
                select(refunds.c.refund_id, refunds.c.amount_fen.label("refund_fen"), payments)
                .join(payments, payments.c.payment_id == refunds.c.payment_id)
                .where(refunds.c.bank_status == "pending")
                .limit(BATCH)
            )
        ).all()
    for row in pending:
        await credit_card_account(ctx, row.refund_id, row, row.refund_fen)
    return len(pending)


async def run_recovery(ctx: PaymentsContext, stop: asyncio.Event) -> None:
    """The worker: one active instance across replicas (advisory lock), every interval."""
    while not stop.is_set():
        async with leadership(ctx.db, "payments-recovery") as leader:
            if not leader:
                await wait_or_stop(stop, 2.0)
                continue
            while not stop.is_set():
                try:
                    await recover_payments(ctx)
                    await recover_refunds(ctx)
                except Exception:
                    log.exception("payments recovery round failed; retrying")
                await wait_or_stop(stop, ctx.config.recovery_interval_s)

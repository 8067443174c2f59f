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

from onecard_events.leadership import run_as_leader
from onecard_events.waiting import wait_or_stop

from ..adapters import queries
from ..domain.ports import BankOutcome
from . import bank
from .context import PaymentsContext
from .pay import finish
from .refunds import credit_card_account

log = logging.getLogger(__name__)


async def recover_payments(ctx: PaymentsContext, older_than_s: float | None = None) -> int:
    """Resolve initiated payments older than `older_than_s`; returns how many were finished."""
    age = ctx.config.recover_after_s if older_than_s is None else older_than_s
    finished = 0
    for row in await queries.initiated_before(ctx.db, int((time.time() - age) * 1000)):
        result = await bank.status(ctx, row.bank_ref)
        if result.outcome is BankOutcome.NOT_FOUND:
            result = await bank.debit(ctx, row.account_ref, row.amount_fen, row.bank_ref)
        if result.outcome in (BankOutcome.APPROVED, BankOutcome.DECLINED):
            await finish(ctx, row.bill_id, row.payment_id, result)
            finished += 1
            log.info("recovered payment %s: %s", row.payment_id, result.outcome.value)
    return finished


async def recover_refunds(ctx: PaymentsContext) -> int:
    pending = await queries.pending_refunds(ctx.db)
    for row in pending:
        await credit_card_account(ctx, row.refund_id, row, row.refund_fen)
    return len(pending)


async def recover_at_start(ctx: PaymentsContext) -> int:
    """Finish every payment and refund initiated before now, whatever its age."""
    finished = await recover_payments(ctx, older_than_s=0)
    await recover_refunds(ctx)
    return finished


async def run_recovery(ctx: PaymentsContext, stop: asyncio.Event) -> None:
    """The worker: one active instance across replicas (`run_as_leader`), a round every interval."""

    async def rounds(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await recover_payments(ctx)
                await recover_refunds(ctx)
            except Exception:
                log.exception("payments recovery round failed; retrying")
            await wait_or_stop(stop, ctx.config.recovery_interval_s)

    await run_as_leader(ctx.db, "payments-recovery", rounds, stop)

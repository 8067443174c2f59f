"""Sending submitted batches to the bank, after the submission committed (a transactional outbox:
`dispatched_at` is set only once the bank took the order, so a crash re-sends it; the bank
dedupes by reference id)."""

from __future__ import annotations

import asyncio
import logging

from onecard_events.leadership import leadership
from onecard_events.model import utcnow
from onecard_events.waiting import wait_or_stop
from sqlalchemy import select, update

from ..adapters.bank import DisbursementBank, Instruction, PaymentOrder
from ..domain.batch import OPEN
from ..tables import batches, payees
from ..waiting import wait_for_either
from .context import Context

log = logging.getLogger(__name__)


async def dispatch_once(ctx: Context, bank: DisbursementBank) -> int:
    query = (
        select(batches.c.batch_id)
        .where(batches.c.status != OPEN, batches.c.dispatched_at.is_(None))
        .order_by(batches.c.submitted_at)
        .limit(10)
    )
    async with ctx.db.engine.connect() as conn:
        waiting = list((await conn.execute(query)).scalars())
    for batch_id in waiting:
        await bank.submit(await _order(ctx, batch_id))
        async with ctx.db.engine.begin() as conn:
            await conn.execute(
                update(batches).where(batches.c.batch_id == batch_id).values(dispatched_at=utcnow())
            )
        log.info("batch %s sent to the bank", batch_id)
    return len(waiting)


async def _order(ctx: Context, batch_id: str) -> PaymentOrder:
    columns = [
        payees.c.reference_id,
        payees.c.beneficiary_key,
        payees.c.amount_fen,
        payees.c.channel,
        payees.c.account_sealed,
    ]
    query = select(*columns).where(payees.c.batch_id == batch_id).order_by(payees.c.reference_id)
    async with ctx.db.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return PaymentOrder(
        batch_id,
        [
            Instruction(r.reference_id, r.beneficiary_key, r.amount_fen, r.channel, r.account_sealed)
            for r in rows
        ],
    )


async def run_dispatcher(ctx: Context, bank: DisbursementBank, stop: asyncio.Event) -> None:
    """One dispatcher across replicas (an advisory lock on PostgreSQL); the others stand by."""
    while not stop.is_set():
        async with leadership(ctx.db, "disbursement-dispatch") as leader:
            while leader and not stop.is_set():
                if await dispatch_once(ctx, bank):
                    continue
                ctx.dispatch_nudge.clear()
                await wait_for_either(stop, ctx.dispatch_nudge, 0.5)
        await wait_or_stop(stop, 2.0)

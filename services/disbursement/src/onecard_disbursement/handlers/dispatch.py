"""Sending submitted batches to the bank, after the submission committed (a transactional outbox:
`dispatched_at` is set only once the bank took the order, so a crash re-sends it; the bank
dedupes by reference id)."""

from __future__ import annotations

import asyncio
import logging

from onecard_events.leadership import run_as_leader
from onecard_events.times import utcnow

from ..adapters import batch_rows, queries
from ..adapters.bank import DisbursementBank
from ..adapters.waiting import wait_for_either
from .context import Context

log = logging.getLogger(__name__)


async def dispatch_once(ctx: Context, bank: DisbursementBank) -> int:
    async with ctx.db.reads.connect() as conn:
        waiting = await queries.undispatched(conn)
    for batch_id in waiting:
        async with ctx.db.reads.connect() as conn:
            order = await queries.payment_order(conn, batch_id)
        await bank.submit(order)
        async with ctx.store.unit_of_work() as uow:
            await batch_rows.write_batch(uow.connection, batch_id, {"dispatched_at": utcnow()})
            await uow.save()
        log.info("batch %s sent to the bank", batch_id)
    return len(waiting)


async def run_dispatcher(ctx: Context, bank: DisbursementBank, stop: asyncio.Event) -> None:
    """One dispatcher across replicas (an advisory lock on PostgreSQL); the others stand by."""

    async def lead(stop: asyncio.Event) -> None:
        while not stop.is_set():
            if await dispatch_once(ctx, bank):
                continue
            ctx.dispatch_nudge.clear()
            await wait_for_either(stop, ctx.dispatch_nudge, 0.5)

    await run_as_leader(ctx.db, "disbursement-dispatch", lead, stop)

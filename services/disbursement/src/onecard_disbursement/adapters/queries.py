"""Read-only queries: batches waiting for the bank, a batch's payment order, and what
reconciliation compares (the batch's payee rows, its event stream, the bank's results)."""

from __future__ import annotations

from dataclasses import dataclass

from onecard_events.tables import events
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.batch import OPEN
from ..domain.events import PayeesAccepted, PayeeSettled, batch_stream
from ..domain.reconciliation import final_of
from .bank import Instruction, PaymentOrder
from .tables import bank_results, batches, payees


async def undispatched(conn: AsyncConnection, limit: int = 10) -> list[str]:
    """Submitted batches the bank has not taken yet, oldest submission first."""
    query = (
        select(batches.c.batch_id)
        .where(batches.c.status != OPEN, batches.c.dispatched_at.is_(None))
        .order_by(batches.c.submitted_at)
        .limit(limit)
    )
    return list((await conn.execute(query)).scalars())


async def payment_order(conn: AsyncConnection, batch_id: str) -> PaymentOrder:
    columns = [
        payees.c.reference_id,
        payees.c.beneficiary_key,
        payees.c.amount_fen,
        payees.c.channel,
        payees.c.account_sealed,
    ]
    query = select(*columns).where(payees.c.batch_id == batch_id).order_by(payees.c.reference_id)
    rows = (await conn.execute(query)).all()
    return PaymentOrder(
        batch_id,
        [
            Instruction(r.reference_id, r.beneficiary_key, r.amount_fen, r.channel, r.account_sealed)
            for r in rows
        ],
    )


@dataclass(frozen=True)
class Recorded:
    """What the service itself recorded about a batch's payees, three ways."""

    payees: dict[str, str]
    amounts: dict[str, int]
    events: dict[str, str]
    bank_results: dict[str, str]


async def recorded(conn: AsyncConnection, batch_id: str) -> Recorded:
    payee_rows = (
        await conn.execute(
            select(payees.c.reference_id, payees.c.status, payees.c.amount_fen).where(
                payees.c.batch_id == batch_id
            )
        )
    ).all()
    received: dict[str, list[str]] = {}
    query = (
        select(bank_results.c.reference_id, bank_results.c.status)
        .join(payees, payees.c.reference_id == bank_results.c.reference_id)
        .where(payees.c.batch_id == batch_id)
    )
    for ref, status in await conn.execute(query):
        received.setdefault(ref, []).append(status)
    return Recorded(
        payees={r.reference_id: r.status for r in payee_rows},
        amounts={r.reference_id: r.amount_fen for r in payee_rows},
        events=await _events_view(conn, batch_id),
        bank_results={ref: final_of(st) for ref, st in received.items()},
    )


async def _events_view(conn: AsyncConnection, batch_id: str) -> dict[str, str]:
    """Each payee's standing outcome according to the batch's event stream alone."""
    query = (
        select(events.c.event_type, events.c.data)
        .where(
            events.c.stream_id == batch_stream(batch_id),
            events.c.event_type.in_([PayeesAccepted.event_type, PayeeSettled.event_type]),
        )
        .order_by(events.c.stream_version)
    )
    standing: dict[str, str] = {}
    for event_type, data in await conn.execute(query):
        if event_type == PayeesAccepted.event_type:
            standing.update((p["reference_id"], "pending") for p in data["payees"])
        else:
            standing[data["reference_id"]] = data["outcome"]
    return standing

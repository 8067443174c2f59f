"""Reading batches, payees and the reconciliation of a batch."""

from __future__ import annotations

from typing import Any

from onecard_events.tables import events
from onecard_service.auth import Principal
from onecard_service.problems import not_found
from sqlalchemy import select

from ..adapters.bank import DisbursementBank
from ..domain.events import PayeesAccepted, PayeeSettled, batch_stream
from ..domain.reconciliation import Sources, final_of, reconcile
from ..tables import bank_results, payees
from .context import Context, authorise, batch_row, batch_view, figures_values, rfc3339, to_batch


async def get_batch(ctx: Context, caller: Principal, batch_id: str) -> dict[str, Any]:
    async with ctx.db.engine.connect() as conn:
        row = await batch_row(conn, batch_id)
    authorise(caller, row.department, row.jurisdiction)
    return batch_view(row)


async def get_payee(ctx: Context, caller: Principal, batch_id: str, reference_id: str) -> dict[str, Any]:
    async with ctx.db.engine.connect() as conn:
        batch = await batch_row(conn, batch_id)
        authorise(caller, batch.department, batch.jurisdiction)
        query = select(payees).where(payees.c.batch_id == batch_id, payees.c.reference_id == reference_id)
        row = (await conn.execute(query)).first()
    if row is None:
        raise not_found("payee", reference_id)
    return {
        "batch_id": row.batch_id,
        "reference_id": row.reference_id,
        "status": row.status,
        "reason": row.reason,
        "channel": row.channel,
        "amount_fen": row.amount_fen,
        "ssn_masked": row.ssn_masked,
        "card_no_masked": row.card_no_masked,
        "name_masked": row.name_masked,
        "accepted_at": rfc3339(row.accepted_at),
        "settled_at": rfc3339(row.settled_at),
    }


async def reconciliation(
    ctx: Context, bank: DisbursementBank, caller: Principal, batch_id: str
) -> dict[str, Any]:
    async with ctx.db.engine.connect() as conn:
        row = await batch_row(conn, batch_id)
        authorise(caller, row.department, row.jurisdiction)
        payee_rows = (
            await conn.execute(
                select(payees.c.reference_id, payees.c.status, payees.c.amount_fen).where(
                    payees.c.batch_id == batch_id
                )
            )
        ).all()
        logged = await _events_view(conn, batch_id)
        received: dict[str, list[str]] = {}
        query = (
            select(bank_results.c.reference_id, bank_results.c.status)
            .join(payees, payees.c.reference_id == bank_results.c.reference_id)
            .where(payees.c.batch_id == batch_id)
        )
        for ref, status in await conn.execute(query):
            received.setdefault(ref, []).append(status)
    statement = await bank.statement(batch_id)
    sources = Sources(
        counters=to_batch(row).figures,
        payees={r.reference_id: r.status for r in payee_rows},
        amounts={r.reference_id: r.amount_fen for r in payee_rows},
        events=logged,
        bank_results={ref: final_of(st) for ref, st in received.items()},
        statement={ref: r.status for ref, r in statement.items()},
        dispatched=row.dispatched_at is not None,
    )
    report, figures = reconcile(sources)
    return {
        "batch_id": batch_id,
        "status": row.status,
        "balanced": report.count == 0,
        "control": {"count": row.control_count, "total_fen": row.control_total_fen},
        "figures": {name: {**figures_values(f), "pending": f.pending} for name, f in figures.items()},
        "in_transit": report.in_transit,
        "mismatch_count": report.count,
        "mismatches": report.mismatches,
    }


async def _events_view(conn: Any, batch_id: str) -> dict[str, str]:
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

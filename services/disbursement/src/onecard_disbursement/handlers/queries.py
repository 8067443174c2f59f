"""Reading batches, payees and the reconciliation of a batch (read-only: no unit of work)."""

from __future__ import annotations

from typing import Any

from onecard_service.auth import Principal

from ..adapters import queries
from ..adapters.bank import DisbursementBank
from ..adapters.rows import batch_row, batch_view, figures_values, payee_view, to_batch
from ..domain.reconciliation import Sources, reconcile
from .context import Context, authorise


async def get_batch(ctx: Context, caller: Principal, batch_id: str) -> dict[str, Any]:
    async with ctx.db.reads.connect() as conn:
        row = await batch_row(conn, batch_id)
    authorise(caller, row.department, row.jurisdiction)
    return batch_view(row)


async def get_payee(ctx: Context, caller: Principal, batch_id: str, reference_id: str) -> dict[str, Any]:
    async with ctx.db.reads.connect() as conn:
        batch = await batch_row(conn, batch_id)
        authorise(caller, batch.department, batch.jurisdiction)
        return await payee_view(conn, batch_id, reference_id)


async def reconciliation(
    ctx: Context, bank: DisbursementBank, caller: Principal, batch_id: str
) -> dict[str, Any]:
    async with ctx.db.reads.connect() as conn:
        row = await batch_row(conn, batch_id)
        authorise(caller, row.department, row.jurisdiction)
        ours = await queries.recorded(conn, batch_id)
    statement = await bank.statement(batch_id)
    sources = Sources(
        counters=to_batch(row).figures,
        payees=ours.payees,
        amounts=ours.amounts,
        events=ours.events,
        bank_results=ours.bank_results,
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

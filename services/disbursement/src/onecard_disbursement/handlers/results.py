"""Bank results: the one path by which payees settle (the HTTP callback and the simulated bank).

One unit of work per call: payee rows, claims, batch counters (the state-stored batch, ADR 0010)
and the payee_settled events published for other services move together. Event ids derive from
(reference, outcome), so a result replayed after a crash cannot record a second event even if it
got past the state check.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from onecard_events.model import NewEvent
from onecard_events.times import rfc3339, utcnow
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from ..adapters import batch_rows
from ..adapters.rows import figures_values, to_batch
from ..domain.batch import COMPLETED, Figures
from ..domain.events import BatchCompleted, PayeeSettled, batch_stream
from ..domain.settlement import Change, PayeeState, Plan, Result, plan
from .context import Context

log = logging.getLogger(__name__)
EVENT_IDS = uuid.UUID("6f1d6c1e-3b0a-4c53-9a43-d15b0e5e7a11")


def event_id(*parts: str) -> str:
    return str(uuid.uuid5(EVENT_IDS, "|".join(parts)))


async def apply_results(ctx: Context, results: Sequence[Result]) -> dict[str, Any]:
    refs = sorted({r.reference_id for r in results})
    now = utcnow()
    async with ctx.store.unit_of_work() as uow:
        conn = uow.connection
        locked = await batch_rows.lock_batches(conn, await batch_rows.batches_of(conn, refs))
        rows = await batch_rows.current_payees(conn, refs)
        states = {
            ref: PayeeState(ref, r.batch_id, locked[r.batch_id].status, r.status, r.amount_fen)
            for ref, r in rows.items()
        }
        decided = plan(results, states)
        await batch_rows.record_results(conn, results, decided, now)
        await batch_rows.settle(conn, decided.changes, rows, now)
        events = _settled_events(decided.changes, rows, locked, now)
        for batch_id, done in (await _update_batches(conn, decided.changes, locked, now)).items():
            events.setdefault(batch_id, []).append(done)
        # One append per stream: two appends to a stream in one call would claim the same versions.
        for batch_id, recorded in events.items():
            uow.record(batch_stream(batch_id), recorded, None)
        await uow.save()
    _observe(ctx, decided, rows)
    return {
        "applied": len(decided.changes),
        "unchanged": len(decided.unchanged),
        "conflicts": decided.conflicts,
        "unknown": decided.unknown,
    }


def _settled_events(
    changes: Sequence[Change], rows: dict[str, Row[Any]], locked: dict[str, Row[Any]], now: datetime
) -> dict[str, list[NewEvent]]:
    by_batch: dict[str, list[NewEvent]] = {}
    settled_at = rfc3339(now)
    for c in changes:
        r, b = rows[c.reference_id], locked[c.batch_id]
        event = PayeeSettled(
            batch_id=c.batch_id,
            program_id=r.program_id,
            item_id=b.item_id,
            jurisdiction=b.jurisdiction,
            period=r.period,
            reference_id=c.reference_id,
            beneficiary_key=r.beneficiary_key,
            channel=r.channel,
            amount_fen=c.amount_fen,
            outcome=c.outcome,
            reason=c.reason,
            settled_at=settled_at,
        )
        by_batch.setdefault(c.batch_id, []).append(
            NewEvent(event, event_id("settled", c.reference_id, c.outcome))
        )
    return by_batch


async def _update_batches(
    conn: AsyncConnection, changes: Sequence[Change], locked: dict[str, Row[Any]], now: datetime
) -> dict[str, NewEvent]:
    """Write each touched batch's counters; complete those with no payee pending."""
    figures: dict[str, Figures] = {}
    for c in changes:
        f = figures.get(c.batch_id) or to_batch(locked[c.batch_id]).figures
        figures[c.batch_id] = f.settle(c.previous, c.outcome, c.amount_fen)
    completions: dict[str, NewEvent] = {}
    for batch_id, f in figures.items():
        values: dict[str, Any] = figures_values(f)
        if replace(to_batch(locked[batch_id]), figures=f).completes():
            values.update(status=COMPLETED, completed_at=now)
            done = BatchCompleted(
                batch_id=batch_id,
                paid=f.paid,
                failed=f.failed,
                returned=f.returned,
                paid_total_fen=f.paid_total_fen,
            )
            completions[batch_id] = NewEvent(done, event_id("completed", batch_id))
        await batch_rows.write_batch(conn, batch_id, values)
    return completions


def _observe(ctx: Context, decided: Plan, rows: dict[str, Row[Any]]) -> None:
    outcomes = Counter((rows[c.reference_id].channel, c.outcome) for c in decided.changes)
    for (channel, outcome), n in outcomes.items():
        ctx.metrics.disbursements.labels(channel, outcome).inc(n)
    if decided.unknown:
        ctx.metrics.unknown_results.inc(len(decided.unknown))
        log.warning(
            "bank results for %d unknown reference ids, e.g. %s",
            len(decided.unknown),
            ", ".join(decided.unknown[:5]),
        )
    if decided.conflicts:
        ctx.metrics.conflicting_results.inc(len(decided.conflicts))
        log.warning(
            "%d bank results contradict recorded outcomes, e.g. %s",
            len(decided.conflicts),
            decided.conflicts[:5],
        )

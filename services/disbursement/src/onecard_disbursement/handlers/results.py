"""Bank results: the one path by which payees settle (the HTTP callback and the simulated bank).

One transaction per call: payee rows, claims, batch counters and the payee_settled events move
together. Event ids derive from (reference, outcome), so a result replayed after a crash cannot
record a second event even if it got past the state check.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from onecard_events.model import NewEvent, utcnow
from onecard_events.store import StreamAppend
from sqlalchemy import Row, and_, any_, bindparam, delete, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.batch import COMPLETED, Figures
from ..domain.events import BatchCompleted, PayeeSettled, batch_stream
from ..domain.settlement import Change, PayeeState, Plan, Result, plan
from ..tables import bank_results, batches, claims, payees, unknown_results
from .bulk import insert_columns, is_postgres, unnest_sql
from .context import Context, chunks, figures_values, rfc3339, to_batch

log = logging.getLogger(__name__)
EVENT_IDS = uuid.UUID("6f1d6c1e-3b0a-4c53-9a43-d15b0e5e7a11")


def event_id(*parts: str) -> str:
    return str(uuid.uuid5(EVENT_IDS, "|".join(parts)))


async def apply_results(ctx: Context, results: Sequence[Result]) -> dict[str, Any]:
    refs = sorted({r.reference_id for r in results})
    now = utcnow()
    async with ctx.db.engine.begin() as conn:
        batch_rows = await _lock_batches(conn, await _batches_of(conn, refs))
        rows = await _payee_rows(conn, refs)
        states = {
            ref: PayeeState(ref, r.batch_id, batch_rows[r.batch_id].status, r.status, r.amount_fen)
            for ref, r in rows.items()
        }
        decided = plan(results, states)
        await _record_results(conn, results, decided, now)
        await _settle(conn, decided.changes, rows, now)
        events = _settled_events(decided.changes, rows, batch_rows, now)
        for batch_id, done in (await _update_batches(conn, decided.changes, batch_rows, now)).items():
            events.setdefault(batch_id, []).append(done)
        if events:
            # One append per stream: two appends to a stream in one call would claim the same versions.
            await ctx.store.append_batch(
                conn, [StreamAppend(batch_stream(b), e, None) for b, e in events.items()]
            )
    _observe(ctx, decided, rows)
    return {
        "applied": len(decided.changes),
        "unchanged": len(decided.unchanged),
        "conflicts": decided.conflicts,
        "unknown": decided.unknown,
    }


async def _batches_of(conn: AsyncConnection, refs: Sequence[str]) -> list[str]:
    # A payee never changes batch, so this may be read before the locks.
    if not refs:
        return []
    if is_postgres(conn):
        wanted = bindparam("refs", list(refs), type_=ARRAY(payees.c.reference_id.type))
        query = select(payees.c.batch_id).where(payees.c.reference_id == any_(wanted)).distinct()
        return sorted((await conn.execute(query)).scalars())
    found: set[str] = set()
    for part in chunks(refs):
        query = select(payees.c.batch_id).where(payees.c.reference_id.in_(part)).distinct()
        found.update((await conn.execute(query)).scalars())
    return sorted(found)


async def _lock_batches(conn: AsyncConnection, batch_ids: list[str]) -> dict[str, Row[Any]]:
    """Lock the batches in id order (a fixed order, so concurrent calls cannot deadlock)."""
    locked = {}
    for batch_id in batch_ids:
        query = select(batches).where(batches.c.batch_id == batch_id).with_for_update()
        locked[batch_id] = (await conn.execute(query)).one()
    return locked


async def _payee_rows(conn: AsyncConnection, refs: Sequence[str]) -> dict[str, Row[Any]]:
    # Read after the batch locks: every change to a payee holds its batch's lock, so this is current.
    columns = [
        payees.c.reference_id,
        payees.c.batch_id,
        payees.c.program_id,
        payees.c.period,
        payees.c.beneficiary_key,
        payees.c.channel,
        payees.c.amount_fen,
        payees.c.status,
    ]
    rows: dict[str, Row[Any]] = {}
    if is_postgres(conn):
        wanted = bindparam("refs", list(refs), type_=ARRAY(payees.c.reference_id.type))
        for r in await conn.execute(select(*columns).where(payees.c.reference_id == any_(wanted))):
            rows[r.reference_id] = r
        return rows
    for part in chunks(refs):
        for r in await conn.execute(select(*columns).where(payees.c.reference_id.in_(part))):
            rows[r.reference_id] = r
    return rows


async def _record_results(
    conn: AsyncConnection, results: Sequence[Result], decided: Plan, now: datetime
) -> None:
    """Keep every distinct result the bank sent (reconciliation compares them) and every unknown."""
    unknown = set(decided.unknown)
    known = {(r.reference_id, r.status): r for r in results if r.reference_id not in unknown}
    if known:
        await insert_columns(
            conn,
            bank_results,
            {
                "reference_id": [ref for ref, _ in known],
                "status": [st for _, st in known],
                "reason": [r.reason[:200] for r in known.values()],
            },
            {"received_at": now},
            ignore_duplicates=True,
        )
    strangers = sorted({(r.reference_id[:200], r.status[:20]) for r in results if r.reference_id in unknown})
    if strangers:
        await insert_columns(
            conn,
            unknown_results,
            {"reference_id": [ref for ref, _ in strangers], "status": [st for _, st in strangers]},
            {"received_at": now},
            ignore_duplicates=True,
        )


async def _settle(
    conn: AsyncConnection, changes: Sequence[Change], rows: dict[str, Row[Any]], now: datetime
) -> None:
    if not changes:
        return
    # A payee may move twice in one call (pending -> paid -> returned): its last change stands.
    final = {c.reference_id: c for c in changes}
    returned = [c for c in changes if c.outcome == "returned"]
    if is_postgres(conn):
        await _settle_postgres(conn, list(final.values()), returned, rows, now)
        return
    statement = (
        update(payees)
        .where(payees.c.reference_id == bindparam("ref"))
        .values(status=bindparam("new_status"), reason=bindparam("new_reason"), settled_at=bindparam("at"))
    )
    await conn.execute(
        statement,
        [
            {"ref": c.reference_id, "new_status": c.outcome, "new_reason": c.reason[:200], "at": now}
            for c in final.values()
        ],
    )
    if returned:
        # A returned payment no longer counts as the person's payment for the period.
        release = delete(claims).where(
            and_(
                claims.c.program_id == bindparam("p"),
                claims.c.period == bindparam("per"),
                claims.c.beneficiary_key == bindparam("k"),
                claims.c.reference_id == bindparam("ref"),
            )
        )
        await conn.execute(
            release,
            [
                {
                    "p": rows[c.reference_id].program_id,
                    "per": rows[c.reference_id].period,
                    "k": rows[c.reference_id].beneficiary_key,
                    "ref": c.reference_id,
                }
                for c in returned
            ],
        )


async def _settle_postgres(
    conn: AsyncConnection,
    final: Sequence[Change],
    returned: Sequence[Change],
    rows: dict[str, Row[Any]],
    now: datetime,
) -> None:
    """One UPDATE ... FROM unnest for the payees, one DELETE ... USING unnest for the claims."""
    moved = unnest_sql(conn, payees, "u", {"ref": "reference_id", "st": "status", "rsn": "reason"})
    await conn.execute(
        text(
            f"UPDATE payees SET status = u.st, reason = u.rsn, settled_at = :at "  # noqa: S608 (names only)
            f"FROM {moved} WHERE payees.reference_id = u.ref"
        ),
        {
            "ref": [c.reference_id for c in final],
            "st": [c.outcome for c in final],
            "rsn": [c.reason[:200] for c in final],
            "at": now,
        },
    )
    if not returned:
        return
    # A returned payment no longer counts as the person's payment for the period.
    gone = unnest_sql(
        conn,
        claims,
        "u",
        {"p": "program_id", "per": "period", "k": "beneficiary_key", "ref": "reference_id"},
    )
    await conn.execute(
        text(
            f"DELETE FROM claims USING {gone} WHERE claims.program_id = u.p "  # noqa: S608 (names only)
            "AND claims.period = u.per AND claims.beneficiary_key = u.k AND claims.reference_id = u.ref"
        ),
        {
            "p": [rows[c.reference_id].program_id for c in returned],
            "per": [rows[c.reference_id].period for c in returned],
            "k": [rows[c.reference_id].beneficiary_key for c in returned],
            "ref": [c.reference_id for c in returned],
        },
    )


def _settled_events(
    changes: Sequence[Change], rows: dict[str, Row[Any]], batch_rows: dict[str, Row[Any]], now: datetime
) -> dict[str, list[NewEvent]]:
    by_batch: dict[str, list[NewEvent]] = {}
    settled_at = rfc3339(now) or ""
    for c in changes:
        r, b = rows[c.reference_id], batch_rows[c.batch_id]
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
    conn: AsyncConnection, changes: Sequence[Change], batch_rows: dict[str, Row[Any]], now: datetime
) -> dict[str, NewEvent]:
    """Write each touched batch's counters; complete those with no payee pending."""
    figures: dict[str, Figures] = {}
    for c in changes:
        f = figures.get(c.batch_id) or to_batch(batch_rows[c.batch_id]).figures
        figures[c.batch_id] = f.settle(c.previous, c.outcome, c.amount_fen)
    completions: dict[str, NewEvent] = {}
    for batch_id, f in figures.items():
        values: dict[str, Any] = figures_values(f)
        if replace(to_batch(batch_rows[batch_id]), figures=f).completes():
            values.update(status=COMPLETED, completed_at=now)
            done = BatchCompleted(
                batch_id=batch_id,
                paid=f.paid,
                failed=f.failed,
                returned=f.returned,
                paid_total_fen=f.paid_total_fen,
            )
            completions[batch_id] = NewEvent(done, event_id("completed", batch_id))
        await conn.execute(update(batches).where(batches.c.batch_id == batch_id).values(**values))
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

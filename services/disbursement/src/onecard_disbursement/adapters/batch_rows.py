"""The batch's rows (batch, payees, claims, bank results), written set-based for either dialect.

These rows are the state-stored batch (ADR 0010): the handlers decide, these functions write on
the unit of work's connection, and the handlers record the events for other services alongside.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from onecard_events.sql import any_of, chunks, existing, insert_columns, is_postgres, unnest_sql
from onecard_events.times import utcnow
from sqlalchemy import Row, and_, bindparam, delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.payees import Candidate, Sealed
from ..domain.settlement import Change, Plan, Result
from .rows import to_batch
from .tables import bank_results, batches, claims, payees, unknown_results

# Rows per statement of an upload's set-based reads and writes: the driver encodes a statement's
# arrays in one go, on the event loop, so a 50,000-row statement would hold it for a few hundred
# ms; parts of this size hold it for a few ms each, and the loop runs while each one is answered.
ROWS_PER_STATEMENT = 2000


async def used_and_claimed(
    conn: AsyncConnection, row: Row[Any], candidates: Sequence[Candidate]
) -> tuple[set[str], set[str]]:
    """Set queries, a part of the call at a time: references used before anywhere, people
    claimed in the batch's program and period."""
    used: set[str] = set()
    claimed: set[str] = set()
    for part in chunks(candidates, ROWS_PER_STATEMENT):
        used |= await existing(conn, payees.c.reference_id, [c.reference_id for c in part])
        claimed |= await existing(
            conn,
            claims.c.beneficiary_key,
            [c.beneficiary_key for c in part],
            claims.c.program_id == row.program_id,
            claims.c.period == row.period,
        )
    return used, claimed


async def insert_accepted(
    conn: AsyncConnection, row: Row[Any], accepted: Sequence[Candidate], sealed: dict[str, Sealed]
) -> None:
    """Payee rows, claims and the batch's counters for the payees just accepted, set-based."""
    now = utcnow()
    for part in chunks(accepted, ROWS_PER_STATEMENT):
        refs = [c.reference_id for c in part]
        people = [c.beneficiary_key for c in part]
        kept = [sealed[ref] for ref in refs]
        await insert_columns(
            conn,
            payees,
            {
                "reference_id": refs,
                "beneficiary_key": people,
                "channel": [c.channel for c in part],
                "amount_fen": [c.amount_fen for c in part],
                "ssn_masked": [s.ssn_masked for s in kept],
                "card_no_masked": [s.card_no_masked for s in kept],
                "name_masked": [s.name_masked for s in kept],
                "account_sealed": [s.account_sealed for s in kept],
            },
            {
                "batch_id": row.batch_id,
                "program_id": row.program_id,
                "period": row.period,
                "status": "pending",
                "reason": "",
                "accepted_at": now,
                "settled_at": None,
            },
        )
        await insert_columns(
            conn,
            claims,
            {"beneficiary_key": people, "reference_id": refs},
            {"program_id": row.program_id, "period": row.period},
        )
    f = to_batch(row).figures
    total = sum(c.amount_fen for c in accepted)
    await conn.execute(
        update(batches)
        .where(batches.c.batch_id == row.batch_id)
        .values(accepted=f.accepted + len(accepted), accepted_total_fen=f.accepted_total_fen + total)
    )


async def batches_of(conn: AsyncConnection, refs: Sequence[str]) -> list[str]:
    # A payee never changes batch, so this may be read before the locks.
    if not refs:
        return []
    found: set[str] = set()
    for part in _parts(conn, refs):
        query = select(payees.c.batch_id).where(any_of(conn, payees.c.reference_id, part)).distinct()
        found.update((await conn.execute(query)).scalars())
    return sorted(found)


def _parts(conn: AsyncConnection, refs: Sequence[str]) -> list[Sequence[str]]:
    """The whole set at once on PostgreSQL (one array parameter), chunks of it on SQLite."""
    return [refs] if is_postgres(conn) else list(chunks(refs))


async def lock_batches(conn: AsyncConnection, batch_ids: list[str]) -> dict[str, Row[Any]]:
    """Lock the batches in id order (a fixed order, so concurrent calls cannot deadlock)."""
    locked = {}
    for batch_id in batch_ids:
        query = select(batches).where(batches.c.batch_id == batch_id).with_for_update()
        locked[batch_id] = (await conn.execute(query)).one()
    return locked


async def current_payees(conn: AsyncConnection, refs: Sequence[str]) -> dict[str, Row[Any]]:
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
    for part in _parts(conn, refs):
        for r in await conn.execute(select(*columns).where(any_of(conn, payees.c.reference_id, part))):
            rows[r.reference_id] = r
    return rows


async def record_results(
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
            on_conflict="ON CONFLICT DO NOTHING",
        )
    strangers = sorted({(r.reference_id[:200], r.status[:20]) for r in results if r.reference_id in unknown})
    if strangers:
        await insert_columns(
            conn,
            unknown_results,
            {"reference_id": [ref for ref, _ in strangers], "status": [st for _, st in strangers]},
            {"received_at": now},
            on_conflict="ON CONFLICT DO NOTHING",
        )


async def settle(
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


async def write_batch(conn: AsyncConnection, batch_id: str, values: dict[str, Any]) -> None:
    await conn.execute(update(batches).where(batches.c.batch_id == batch_id).values(**values))

"""The batch's rows, read and shown: the state-stored batch (ADR 0010) is these rows.

`batch_row(lock=True)` holds the row for the transaction, which serialises every change to the
batch (its counters, its payees and its event stream) without optimistic retries.
"""

from __future__ import annotations

from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from onecard_events.times import rfc3339
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.batch import Batch, Figures
from ..domain.errors import not_found
from .tables import batches, payees, programs


def moment(value: datetime | None) -> str | None:
    return None if value is None else rfc3339(value)


async def batch_row(conn: AsyncConnection, batch_id: str, *, lock: bool = False) -> Row[Any]:
    """The batch's row; `lock` holds it for the transaction (see the module docstring)."""
    query = select(batches).where(batches.c.batch_id == batch_id)
    row = (await conn.execute(query.with_for_update() if lock else query)).first()
    if row is None:
        raise not_found("batch", batch_id)
    return row


async def program_row(conn: AsyncConnection, program_id: str) -> Row[Any] | None:
    return (await conn.execute(select(programs).where(programs.c.program_id == program_id))).first()


async def insert_program(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(programs.insert().values(**values))


async def batch_exists(conn: AsyncConnection, batch_id: str) -> bool:
    query = select(batches.c.batch_id).where(batches.c.batch_id == batch_id)
    return (await conn.execute(query)).first() is not None


async def insert_batch(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(batches.insert().values(**values))


# The batch row has one column per counter, named as the counter.
FIGURES = tuple(f.name for f in fields(Figures))


def to_batch(row: Row[Any]) -> Batch:
    figures = Figures(**{name: getattr(row, name) for name in FIGURES})
    return Batch(row.batch_id, row.status, row.control_count, row.control_total_fen, figures)


def figures_values(f: Figures) -> dict[str, int]:
    return asdict(f)


def batch_view(row: Row[Any]) -> dict[str, Any]:
    f = to_batch(row).figures
    return {
        "batch_id": row.batch_id,
        "program_id": row.program_id,
        "item_id": row.item_id,
        "jurisdiction": row.jurisdiction,
        "period": row.period,
        "status": row.status,
        "control_count": row.control_count,
        "control_total_fen": row.control_total_fen,
        **figures_values(f),
        "pending": f.pending,
        "created_at": moment(row.created_at),
        "submitted_at": moment(row.submitted_at),
        "completed_at": moment(row.completed_at),
    }


async def payee_view(conn: AsyncConnection, batch_id: str, reference_id: str) -> dict[str, Any]:
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
        "accepted_at": moment(row.accepted_at),
        "settled_at": moment(row.settled_at),
    }

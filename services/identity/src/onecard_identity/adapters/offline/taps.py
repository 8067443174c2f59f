"""Uploaded taps: claimed once per (venue, terminal, sequence), answered again from their row, and
queried for their findings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from onecard_events.sql import insert_for
from sqlalchemy import select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import taps


async def claim_taps(conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> set[int]:
    """Insert the taps' rows; returns the sequences that were new. A tap another transaction is
    recording makes PostgreSQL wait for it, then skip: exactly one upload records a tap."""
    if not rows:
        return set()
    statement = insert_for(conn, taps).values(list(rows)).on_conflict_do_nothing().returning(taps.c.sequence)
    return {int(s) for s in (await conn.execute(statement)).scalars()}


async def stored_taps(
    conn: AsyncConnection, venue_id: str, terminal_id: str, sequences: Sequence[int]
) -> list[Any]:
    if not sequences:
        return []
    query = select(taps).where(
        taps.c.venue_id == venue_id, taps.c.terminal_id == terminal_id, taps.c.sequence.in_(list(sequences))
    )
    return list(await conn.execute(query))


async def correct_taps(
    conn: AsyncConnection, venue_id: str, terminal_id: str, changed: dict[int, dict[str, Any]]
) -> None:
    """Rewrite the outcome of taps whose code turned out to be used already (few per batch)."""
    for sequence, values in changed.items():
        await conn.execute(
            update(taps)
            .where(
                tuple_(taps.c.venue_id, taps.c.terminal_id, taps.c.sequence)
                == (venue_id, terminal_id, sequence)
            )
            .values(**values)
        )


async def findings(
    conn: AsyncConnection,
    venues: Sequence[str] | None,
    finding: str | None,
    since: datetime | None,
    limit: int,
) -> list[Any]:
    """Taps with a finding, newest upload first; `venues` None for every venue."""
    query = select(taps).where(taps.c.finding.is_not(None))
    if venues is not None:
        query = query.where(taps.c.venue_id.in_(list(venues)))
    if finding is not None:
        query = query.where(taps.c.finding == finding)
    if since is not None:
        query = query.where(taps.c.uploaded_at >= since)
    query = query.order_by(taps.c.uploaded_at.desc(), taps.c.venue_id, taps.c.terminal_id, taps.c.sequence)
    return list(await conn.execute(query.limit(limit)))

"""Durable reader positions, written in the same transaction as the reader's effects."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from .model import Position, utcnow
from .tables import checkpoints


@dataclass(frozen=True)
class Checkpoint:
    """How far a reader got in one source: the last applied event's position (and Kafka offset)."""

    position: Position = Position()
    kafka_offset: int | None = None


async def load_checkpoints(conn: AsyncConnection, reader: str) -> dict[str, Checkpoint]:
    """All checkpoints of `reader`, keyed by source ("<reader>|<source>" rows)."""
    prefix = reader + "|"
    rows = await conn.execute(
        select(checkpoints).where(checkpoints.c.name.startswith(prefix, autoescape=True))
    )
    return {
        row.name[len(prefix) :]: Checkpoint(Position(row.tx_id, row.position), row.kafka_offset)
        for row in rows
    }


async def save_checkpoints(conn: AsyncConnection, reader: str, changed: dict[str, Checkpoint]) -> None:
    if not changed:
        return
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    now = utcnow()
    rows = [
        {
            "name": f"{reader}|{source}",
            "tx_id": cp.position.tx_id,
            "position": cp.position.position,
            "kafka_offset": cp.kafka_offset,
            "updated_at": now,
        }
        for source, cp in changed.items()
    ]
    statement = insert(checkpoints)
    statement = statement.on_conflict_do_update(
        index_elements=[checkpoints.c.name],
        set_={
            "tx_id": statement.excluded.tx_id,
            "position": statement.excluded.position,
            "kafka_offset": statement.excluded.kafka_offset,
            "updated_at": statement.excluded.updated_at,
        },
    )
    await conn.execute(statement, rows)


async def delete_checkpoints(conn: AsyncConnection, reader: str) -> None:
    await conn.execute(
        checkpoints.delete().where(checkpoints.c.name.startswith(reader + "|", autoescape=True))
    )

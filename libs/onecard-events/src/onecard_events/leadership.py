"""Single active worker per job across replicas, by a PostgreSQL session advisory lock.

Relays and projections must not run twice at once (two relays would interleave per-key order,
two projections would race on checkpoints). Every replica tries the lock; one holds it until its
connection ends, and a standby takes over within one retry interval after a crash.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text

from .database import Database


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@asynccontextmanager
async def leadership(db: Database, name: str) -> AsyncIterator[bool]:
    """Yields True while this process holds the lock for `name` (always True on SQLite)."""
    if not db.is_postgres:
        yield True
        return
    async with db.engine.connect() as conn:
        held = bool(
            (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _lock_key(name)})).scalar()
        )
        await conn.commit()
        try:
            yield held
        finally:
            if held:
                await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key(name)})
                await conn.commit()

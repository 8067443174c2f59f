"""Single active worker per job across replicas, by a PostgreSQL session advisory lock.

Relays and projections must not run twice at once (two relays would interleave per-key order,
two projections would race on checkpoints). Every replica tries the lock; one holds it until its
connection ends, and a standby takes over within one retry interval after a crash.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy import text

from .database import Database
from .waiting import wait_or_stop


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


async def run_as_leader(
    db: Database,
    name: str,
    lead: Callable[[asyncio.Event], Awaitable[None]],
    stop: asyncio.Event,
    *,
    standby_seconds: float = 2.0,
) -> None:
    """Run `lead(stop)` as the single active worker `name` until `stop` is set.

    A standby replica retries the lock every `standby_seconds`. An error in `lead` releases the
    lock (another replica may take over) and propagates: the runtime's supervisor restarts the
    worker with backoff and fresh resources. `lead` returning before `stop` means "nothing more
    to do as leader for now": it is called again after the standby interval.
    """
    while not stop.is_set():
        async with leadership(db, name) as leader:
            if leader:
                await lead(stop)
        await wait_or_stop(stop, standby_seconds)

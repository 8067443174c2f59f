"""Single active worker per job across replicas, by a PostgreSQL session advisory lock.

Relays and projections must not run twice at once (two relays would interleave per-key order,
two projections would race on checkpoints). Every replica tries the lock; one holds it until its
connection ends, and a standby takes over within one retry interval after a crash.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from sqlalchemy import text

from .database import Database
from .waiting import wait_or_stop

log = logging.getLogger(__name__)


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
    retry_seconds: float = 1.0,
) -> None:
    """Run `lead(stop)` as the single active worker `name` until `stop` is set.

    A standby replica retries the lock every `standby_seconds`. An error in `lead` is logged and
    the lock released (another replica may take over); this one retries after `retry_seconds`.
    `lead` returning normally before `stop` means "nothing more to do as leader": it is called
    again after the standby interval.
    """
    while not stop.is_set():
        async with leadership(db, name) as leader:
            if leader:
                try:
                    await lead(stop)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("worker %s failed; restarting", name)
                    await wait_or_stop(stop, retry_seconds)
                    continue
        await wait_or_stop(stop, standby_seconds)

"""Single active worker per job across replicas, by a PostgreSQL session advisory lock.

Relays and projections must not run twice at once (two relays would interleave per-key order,
two projections would race on checkpoints). Every replica tries the lock; one holds it until its
connection ends, and a standby takes over within one retry interval after a crash.

The lock lives as long as the session that took it, and that session can end under a running
leader: a database restart, a terminated backend, a cut link. The leader would go on working on
fresh pool connections without the lock, beside a standby that took it. So while it leads,
`run_as_leader` asks the lock's connection a trivial query every `LOCK_CHECK_SECONDS`; when it
fails (or does not answer within `LOCK_CHECK_TIMEOUT`) the lead is told to stop, cancelled if it
does not within `LOST_GRACE_SECONDS`, and `LeadershipLost` ends the run: the supervisor starts a
new one, which takes the lock again (or stands by).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from .database import Database
from .waiting import wait_or_stop

log = logging.getLogger(__name__)
LOCK_CHECK_SECONDS = 1.0
LOCK_CHECK_TIMEOUT = 10.0
LOST_GRACE_SECONDS = 5.0
Lead = Callable[[asyncio.Event], Awaitable[None]]


class LeadershipLost(RuntimeError):
    """The session holding a leader lock ended: the lock is gone, the lead was stopped."""


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@dataclass
class Lock:
    """A leader lock: `held` by this process or not; `conn` is the session holding it."""

    name: str
    held: bool
    conn: AsyncConnection | None = None
    lost: bool = False

    async def alive(self, timeout: float = LOCK_CHECK_TIMEOUT) -> bool:
        """Whether the session holding the lock still answers (always True without a session)."""
        if self.conn is None:
            return True
        try:
            await asyncio.wait_for(self.conn.execute(text("SELECT 1")), timeout)
            return True
        except Exception as exc:  # TimeoutError included
            log.warning("leader lock %s: its connection is gone (%s)", self.name, type(exc).__name__)
            return False


@asynccontextmanager
async def leadership(db: Database, name: str) -> AsyncIterator[Lock]:
    """The lock for `name`, held by this process or not (always held on SQLite)."""
    if not db.is_postgres:
        yield Lock(name, held=True)
        return
    async with db.engine.connect() as conn:
        # Autocommit: the lock is the session's, and the checks open no transaction.
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        held = bool(
            (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _lock_key(name)})).scalar()
        )
        lock = Lock(name, held, conn)
        try:
            yield lock
        finally:
            if held:
                await _release(lock)


async def _release(lock: Lock) -> None:
    assert lock.conn is not None
    if not lock.lost:
        try:
            await lock.conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key(lock.name)})
            return
        except Exception as exc:
            log.warning("leader lock %s: unlock failed (%s)", lock.name, type(exc).__name__)
    # The session is dead or in doubt: never hand it back to the pool (closing it ends the lock).
    with contextlib.suppress(Exception):
        await lock.conn.invalidate()


async def lead_while_held(
    lock: Lock, lead: Lead, stop: asyncio.Event, *, check_seconds: float = LOCK_CHECK_SECONDS
) -> None:
    """Run `lead` until it returns, `stop` is set, or the lock's session is found dead (then
    `LeadershipLost`, after the lead stopped or was cancelled)."""
    if lock.conn is None:  # SQLite: one process, nothing to lose
        await lead(stop)
        return
    lead_stop = asyncio.Event()

    async def watch() -> None:
        while not stop.is_set():
            await wait_or_stop(stop, check_seconds)
            if not stop.is_set() and not await lock.alive():
                lock.lost = True
                break
        lead_stop.set()

    watcher = asyncio.create_task(watch(), name=f"leader-lock:{lock.name}")
    leading = asyncio.ensure_future(lead(lead_stop))
    try:
        await asyncio.wait({leading, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if not leading.done():  # told to stop: asked to, or the lock is gone
            await asyncio.wait({leading}, timeout=LOST_GRACE_SECONDS if lock.lost else None)
    finally:
        watcher.cancel()
        leading.cancel()  # a no-op once it is done
        await asyncio.gather(leading, watcher, return_exceptions=True)
    error = None if leading.cancelled() else leading.exception()
    if lock.lost:
        raise LeadershipLost(f"leader lock {lock.name}: its database session ended") from error
    if error is not None:
        raise error


async def run_as_leader(
    db: Database,
    name: str,
    lead: Lead,
    stop: asyncio.Event,
    *,
    standby_seconds: float = 2.0,
    check_seconds: float = LOCK_CHECK_SECONDS,
    on_held: Callable[[bool], None] | None = None,
) -> None:
    """Run `lead(stop)` as the single active worker `name` until `stop` is set.

    A standby replica retries the lock every `standby_seconds`; `on_held` is told whether this
    process holds it after every try. An error in `lead` releases the lock (another replica may
    take over) and propagates: the runtime's supervisor restarts the worker with backoff and fresh
    resources, as it does after `LeadershipLost`. `lead` returning before `stop` means "nothing
    more to do as leader for now": it is called again after the standby interval.
    """
    while not stop.is_set():
        async with leadership(db, name) as lock:
            if on_held is not None:
                on_held(lock.held)
            if lock.held:
                await lead_while_held(lock, lead, stop, check_seconds=check_seconds)
        await wait_or_stop(stop, standby_seconds)

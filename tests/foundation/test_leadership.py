"""Leader locks on the real PostgreSQL: when the session holding a job's lock ends under a running
leader (a database restart, here its backend terminated from another connection), the leader stops
leading and the supervisor's next run takes the lock again; it never leads without it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from onecard_events.database import Database, open_database
from onecard_events.leadership import _lock_key, run_as_leader
from onecard_events.supervision import Backoff, Supervisor
from sqlalchemy import text

from tests.support.names import unique
from tests.support.waiting import eventually

pytestmark = pytest.mark.postgres


@pytest.fixture
async def admin(pg_url: str) -> AsyncIterator[Database]:
    db = open_database(pg_url, schema="public")
    try:
        yield db
    finally:
        await db.dispose()


async def holders(admin: Database, name: str) -> list[int]:
    """The backends holding the advisory lock of job `name`."""
    key = _lock_key(name) & 0xFFFF_FFFF_FFFF_FFFF
    async with admin.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
                "AND classid::bigint = :high AND objid::bigint = :low"
            ),
            {"high": key >> 32, "low": key & 0xFFFF_FFFF},
        )
        return [int(r[0]) for r in rows]


async def test_a_leader_whose_lock_session_ends_stops_and_leads_again_with_the_lock(
    pg_db: Database, admin: Database
) -> None:
    name = unique("job")
    leads: list[asyncio.Event] = []  # one per lead, set when that lead was told to stop

    async def lead(stop: asyncio.Event) -> None:
        leads.append(stop)
        await stop.wait()  # a worker with nothing to do: it touches no database while it leads

    supervisor = Supervisor("test", backoff=Backoff(initial=0.1, cap=0.2))
    supervisor.start("job", lambda stop: run_as_leader(pg_db, name, lead, stop, check_seconds=0.2))
    health = supervisor.watch("job")
    try:

        async def leading() -> list[int]:
            held = await holders(admin, name)
            return held if leads and len(held) == 1 else []

        [first] = await eventually(leading, what="the job leads with its lock")
        async with admin.engine.connect() as conn:
            assert (await conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": first})).scalar()

        async def leads_again() -> bool:
            held = await holders(admin, name)
            return len(leads) == 2 and leads[0].is_set() and len(held) == 1 and held[0] != first

        await eventually(leads_again, timeout=15, what="the first lead stopped, the second holds the lock")
        assert not leads[1].is_set()
        assert health.last_error == "LeadershipLost" and health.restarts == 1
    finally:
        await supervisor.stop()
    assert await holders(admin, name) == []  # released at the end

"""A view is current (what /readyz waits for) once it has applied what its sources held when it
started, even while new events keep arriving: under steady traffic a fetch never comes back empty,
and a restarted service waited for a quiet moment that never came (the chaos suite's SIGKILL of
payments and reporting, under load)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from onecard_events.migrations import upgrade
from onecard_events.model import NewEvent
from onecard_events.registry import EventRegistry
from onecard_events.store import NO_STREAM, EventStore, StreamAppend
from onecard_events.subscription import ProjectionRunner, StoreLogSource
from onecard_identity.bootstrap import MIGRATIONS
from sqlalchemy import text

from tests.support.counted import AppliedOnce, Counted
from tests.support.databases import sqlite_database


async def test_a_view_is_current_at_its_start_heads_while_writes_go_on(tmp_path: Path) -> None:
    db = sqlite_database(tmp_path / "store.db")
    await upgrade(db, MIGRATIONS, "identity_0001")
    store = EventStore(db, EventRegistry(), source="busy")
    async with db.engine.begin() as conn:
        await conn.execute(text(AppliedOnce.TABLE))

    async def append(n: int) -> None:
        async with db.engine.begin() as conn:
            await store.append_batch(conn, [StreamAppend(f"s{n}", [NewEvent(Counted(n=n))], NO_STREAM)])

    for n in range(50):
        await append(n)

    async def traffic() -> None:  # a write every 20 ms, faster than the runner's poll timeout
        n = 50
        while True:
            await append(n)
            n += 1
            await asyncio.sleep(0.02)

    writer = asyncio.ensure_future(traffic())
    runner = ProjectionRunner(AppliedOnce(), StoreLogSource([store]), db, batch_size=10)
    await runner.start()
    try:
        for _ in range(40):  # 40 batches, each of them full: never an empty fetch
            if runner.current:
                break
            await runner.run_once()
        assert runner.current, "the view applied its start heads and more, yet is not current"
    finally:
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await writer
        await runner.stop()
        await db.dispose()

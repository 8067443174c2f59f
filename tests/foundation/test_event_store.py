"""The event store on both databases: concurrency, idempotency, upcasting, gap-free reading."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from onecard_events.database import open_database
from onecard_events.migrations import upgrade
from onecard_events.model import DomainEvent, NewEvent, Position
from onecard_events.registry import EventRegistry
from onecard_events.store import NO_STREAM, ConcurrencyError, EventStore, StreamAppend
from onecard_events.tables import events
from onecard_identity.bootstrap import MIGRATIONS

from tests.support.databases import fresh_schema
from tests.support.servers import server_fixture
from tests.support.waiting import eventually

registry = EventRegistry()


@registry.register
class Tapped(DomainEvent):
    event_type: ClassVar[str] = "test.tapped"
    schema_version: ClassVar[int] = 2
    venue: str
    count: int = 1


@registry.upcaster("test.tapped", 1)
def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    # v1 called the venue "place" and had no count.
    return {"venue": data.pop("place"), "count": 1}


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventStore]:
    if request.param == "sqlite":
        db = open_database(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}", schema="store")
        await upgrade(db, MIGRATIONS, "identity_0001")
        yield EventStore(db, registry, source="test")
        return
    async with fresh_schema(server_fixture(request, "pg_url")) as db:
        await upgrade(db, MIGRATIONS, "identity_0001")
        yield EventStore(db, registry, source="test")


async def test_conflicting_append_fails(store: EventStore) -> None:
    async with store.db.engine.begin() as conn:
        await store.append(conn, "card-1", [Tapped(venue="v1")], NO_STREAM)
    with pytest.raises(ConcurrencyError):
        async with store.db.engine.begin() as conn:
            await store.append(conn, "card-1", [Tapped(venue="v2")], NO_STREAM)
    async with store.db.engine.begin() as conn:
        await store.append(conn, "card-1", [Tapped(venue="v3")], 1)
        loaded, version = await store.load(conn, "card-1")
    assert version == 2
    assert [e.venue for e in loaded] == ["v1", "v3"]  # type: ignore[attr-defined]


async def test_reappending_the_same_event_id_is_a_no_op(store: EventStore) -> None:
    event = NewEvent(Tapped(venue="v1"), event_id="fixed-id")
    for _ in range(3):
        async with store.db.engine.begin() as conn:
            await store.append(conn, "card-2", [event], None)
    async with store.db.engine.begin() as conn:
        assert len(await store.read_stream(conn, "card-2")) == 1


async def test_old_versions_are_upcast_on_read(store: EventStore) -> None:
    async with store.db.engine.begin() as conn:
        await conn.execute(
            events.insert().values(
                tx_id=0,
                stream_id="card-3",
                stream_version=1,
                event_id="old-1",
                event_type="test.tapped",
                schema_version=1,
                data={"place": "library"},
                metadata={},
                recorded_at=datetime.now(UTC),
            )
        )
        loaded, _ = await store.load(conn, "card-3")
    assert loaded == [Tapped(venue="library", count=1)]


async def test_append_batch_is_one_transaction(store: EventStore) -> None:
    async with store.db.engine.begin() as conn:
        await store.append(conn, "s-b", [Tapped(venue="x")], NO_STREAM)
    with pytest.raises(ConcurrencyError):
        async with store.db.engine.begin() as conn:
            await store.append_batch(
                conn, [StreamAppend("s-a", [Tapped(venue="a")]), StreamAppend("s-b", [Tapped(venue="b")])]
            )

    async def only_the_first() -> bool:
        return len(await store.read_all(Position(), 100)) == 1

    await eventually(only_the_first)


async def _writer(store: EventStore, writer: int, total: int, rng: random.Random) -> None:
    written = 0
    while written < total:
        size = min(rng.randint(1, 8), total - written)
        async with store.db.engine.begin() as conn:
            await store.append(
                conn,
                f"w{writer}",
                [
                    NewEvent(Tapped(venue=f"{writer}", count=written + i), event_id=f"{writer}-{written + i}")
                    for i in range(size)
                ],
                written,
            )
            # Hold the transaction open a little: commits then land out of position order.
            if rng.random() < 0.3:
                await asyncio.sleep(rng.random() * 0.01)
        written += size


async def test_concurrent_writers_and_polling_reader_lose_and_reorder_nothing(store: EventStore) -> None:
    writers, per_writer = (10, 1000) if store.db.is_postgres else (4, 250)
    seen: list[Any] = []
    done = asyncio.Event()

    async def reader() -> None:
        # Rows of a committed transaction stay invisible while any older transaction in the
        # cluster runs (ADR 0002), so the reader stops on the expected count, with a deadline.
        position = Position()
        deadline: float | None = None
        while len(seen) < writers * per_writer:
            if done.is_set() and deadline is None:
                deadline = asyncio.get_running_loop().time() + 60
            if deadline is not None and asyncio.get_running_loop().time() > deadline:
                return
            batch = await store.read_all(position, 500)
            seen.extend(batch)
            if batch:
                position = batch[-1].position
            else:
                await asyncio.sleep(0.001)

    reading = asyncio.create_task(reader())
    rng = random.Random(7)
    await asyncio.gather(
        *(_writer(store, w, per_writer, random.Random(rng.random())) for w in range(writers))
    )
    done.set()
    await reading

    ids = [r.event_id for r in seen]
    assert len(ids) == writers * per_writer, "the reader lost events"
    assert len(set(ids)) == len(ids), "the reader saw an event twice"
    positions = [r.position for r in seen]
    assert positions == sorted(positions), "the global order went backwards"
    for w in range(writers):
        counts = [r.data["count"] for r in seen if r.stream_id == f"w{w}"]
        assert counts == list(range(per_writer)), f"stream w{w} out of order"

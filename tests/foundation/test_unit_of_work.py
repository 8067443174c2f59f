"""The unit of work on both databases: aggregates saved at their versions, one transaction, the
commit's position, rollback on anything but save()."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from onecard_events.aggregate import Aggregate
from onecard_events.model import DomainEvent, NewEvent
from onecard_events.store import ConcurrencyError, EventStore
from sqlalchemy import text

from tests.foundation.test_event_store import Tapped
from tests.foundation.test_event_store import store as store  # the two-database fixture


@dataclass
class Turnstile(Aggregate):
    venue: str
    taps: list[str] = field(default_factory=list)

    def apply(self, event: DomainEvent) -> None:
        assert isinstance(event, Tapped)
        self.taps.append(event.venue)

    def tap(self) -> None:
        self.trigger(Tapped(venue=self.venue))


async def _count(store: EventStore, stream_id: str) -> int:
    async with store.db.engine.connect() as conn:
        return len(await store.read_stream(conn, stream_id))


async def test_save_appends_what_aggregates_recorded_and_returns_the_position(store: EventStore) -> None:
    async with store.unit_of_work() as uow:
        gate = await uow.get("gate-1", Turnstile("v1"))
        gate.tap()
        gate.tap()
        assert gate.version == 0 and len(gate.pending_events) == 2
        first = await uow.save()
    assert first is not None
    async with store.unit_of_work() as uow:
        gate = await uow.get("gate-1", Turnstile("v1"))
        assert (gate.taps, gate.version, gate.pending_events) == (["v1", "v1"], 2, [])
        gate.tap()
        second = await uow.save()
    assert second is not None and second > first
    assert await _count(store, "gate-1") == 3


async def test_a_stale_aggregate_saves_nothing(store: EventStore) -> None:
    async with store.unit_of_work() as uow:
        (await uow.get("gate-2", Turnstile("v"))).tap()
        await uow.save()
    async with store.unit_of_work() as uow:
        gate = await uow.get("gate-2", Turnstile("v"))
        # Another writer moves the stream on after the load (SQLite serialises whole
        # transactions, so the race is staged on the same connection).
        await store.append(uow.connection, "gate-2", [Tapped(venue="other")], expected_version=1)
        gate.tap()
        gate.tap()
        with pytest.raises(ConcurrencyError):
            await uow.save()
    assert await _count(store, "gate-2") == 1


async def test_leaving_without_save_or_with_an_error_rolls_everything_back(store: EventStore) -> None:
    async with store.unit_of_work() as uow:
        await uow.connection.execute(text("CREATE TABLE IF NOT EXISTS marks (m TEXT)"))
        await uow.save()
    async with store.unit_of_work() as uow:
        (await uow.get("gate-3", Turnstile("v"))).tap()
        await uow.flush()
        await uow.connection.execute(text("INSERT INTO marks VALUES ('a')"))
    with pytest.raises(RuntimeError):
        async with store.unit_of_work() as uow:
            uow.record("gate-3", [Tapped(venue="w")])
            await uow.flush()
            raise RuntimeError("handler failed")
    assert await _count(store, "gate-3") == 0
    async with store.db.engine.connect() as conn:
        marks = (await conn.execute(text("SELECT count(*) FROM marks"))).scalar_one()
    assert marks == 0


async def test_loose_records_flush_inside_the_transaction_and_a_replay_records_nothing(
    store: EventStore,
) -> None:
    async with store.unit_of_work() as uow:
        uow.record("batch-1", [NewEvent(Tapped(venue="a"), event_id="tap-a"), Tapped(venue="b")])
        recorded = await uow.flush()
        assert [r.stream_version for r in recorded] == [1, 2]
        position = await uow.save()
    assert position == recorded[-1].position
    async with store.unit_of_work() as uow:
        uow.record("batch-1", [NewEvent(Tapped(venue="a"), event_id="tap-a")])
        assert await uow.save() is None
    assert await _count(store, "batch-1") == 2

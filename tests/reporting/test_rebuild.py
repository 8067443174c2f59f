"""A rebuild gives what the incremental projection gave; an event delivered twice changes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from onecard_events.checkpoint import Checkpoint
from onecard_events.model import Position, RecordedEvent
from onecard_events.rebuild import rebuild
from onecard_events.subscription import Delivery, ProjectionRunner
from onecard_reporting.adapters.depth_projection import DepthProjection
from onecard_reporting.adapters.queries import load_snapshot
from onecard_reporting.domain.depth import Filters, cross_region_rows, depth_rows, progress_rows

from tests.reporting.test_depth import world_in_place
from tests.reporting.world import YEAR, payee, verification
from tests.support.platform import RunningPlatform


async def reports(running: RunningPlatform) -> dict[str, Any]:
    runtime = running.runtime("reporting")
    now = datetime.now(UTC)
    async with runtime.db.engine.connect() as conn:
        snap = await load_snapshot(conn, now, now)
    return {
        "depth": depth_rows(snap, Filters(YEAR)),
        "progress": progress_rows(snap, Filters(YEAR)),
        "cross": cross_region_rows(snap, None, None, lambda _d: True),
    }


async def test_rebuild_equals_incremental(any_mode: RunningPlatform) -> None:
    await world_in_place(any_mode)
    runtime = any_mode.runtime("reporting")
    await runtime.stop()  # the replay runs on its own, as the CLI does
    incremental = await reports(any_mode)
    counts = await rebuild(runtime.projections)
    assert counts["reporting_depth"] > 0
    assert await reports(any_mode) == incremental


class ListSource:
    """Delivers prepared batches, then nothing."""

    def __init__(self, batches: list[list[Delivery]]) -> None:
        self.batches = batches

    async def start(self, checkpoints: Mapping[str, Checkpoint]) -> None:
        return None

    async def fetch(self, max_events: int, timeout: float) -> list[Delivery]:
        return self.batches.pop(0) if self.batches else []

    async def stop(self) -> None:
        return None

    def fully_fetched(self) -> bool:
        return not self.batches


def recorded(event: Any, n: int, position: Position) -> RecordedEvent:
    return RecordedEvent(
        event_id=f"e{n}",
        event_type=event.event_type,
        schema_version=1,
        stream_id=f"s{n}",
        stream_version=1,
        position=position,
        recorded_at=datetime.now(UTC),
        data=event.model_dump(mode="json"),
        source="test",
    )


async def test_redelivery_changes_nothing(embedded: RunningPlatform) -> None:
    runtime = embedded.runtime("reporting")
    await runtime.stop()
    events = [
        verification("VA1", "500106", True, "510100", 1),
        payee("r1", "500106", "ben1", "card_account", "paid"),
        payee("r1", "500106", "ben1", "card_account", "returned", hours=1),
    ]
    once = [recorded(e, n, Position(0, 10_000 + n)) for n, e in enumerate(events)]
    # the same events again: in the same batch, in a later batch, and without a store position
    # (as a Kafka message without a sequence would come), which the runner cannot drop itself
    twice = [
        [Delivery("store:test", r) for r in once + once],
        [Delivery("store:test", r) for r in once],
        [Delivery("kafka:0", replace(r, position=Position()), n) for n, r in enumerate(once)],
    ]

    async def state(batches: list[list[Delivery]]) -> dict[str, Any]:
        projection = DepthProjection()
        runner = ProjectionRunner(projection, ListSource(batches), runtime.db)
        await runner.rebuild()
        await runner.start()
        while await runner.run_once():
            pass
        now = datetime.now(UTC)
        async with runtime.db.engine.connect() as conn:
            snap = await load_snapshot(conn, now, now)
        return {"beneficiaries": snap.beneficiaries, "uses": snap.uses, "activity": snap.venues}

    expected = await state([[Delivery("store:test", r) for r in once]])
    assert set(expected["beneficiaries"].values()) == {(0, 0)}  # r1 was returned: nobody is paid
    assert sum(expected["uses"].values()) == 1
    assert await state(twice) == await state([[Delivery("store:test", r) for r in once]])

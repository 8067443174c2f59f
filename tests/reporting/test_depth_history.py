"""Depth over time: the depth projection keeps each row as it stood at the end of every day of
events, written the same way by a replay, and across a restart of the projection."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from onecard_catalog.domain import events as catalog
from onecard_events.model import Position
from onecard_events.subscription import Delivery, ProjectionRunner
from onecard_reporting.adapters.depth_history import DepthWithHistory, local_day
from onecard_reporting.adapters.tables import depth_daily
from sqlalchemy import select

from tests.reporting.test_rebuild import ListSource, recorded
from tests.reporting.world import LIBRARY, YEAR, item
from tests.support.platform import RunningPlatform

NOW = datetime.now(UTC)
DAYS = [NOW - timedelta(days=2), NOW - timedelta(days=1), NOW]


@pytest.fixture
def services_under_test() -> tuple[str, ...]:
    return ("reporting",)


def days_of_events() -> list[list[Delivery]]:
    """The library item with two venues in 500106; a terminal at one the next day, at the other
    the day after: identity depth 0, then 1 (half the venues), then 3."""
    library = item(LIBRARY, "图书馆", "测试文化旅游委", ["identity"], {str(YEAR - 1): 2, str(YEAR): 2})
    per_day: list[list[Any]] = [
        [
            catalog.ItemPublished(item=library, version=1, valid_from="2024-01-01"),
            catalog.VenueRegistered(venue_id="VA1", name="一馆", jurisdiction="500106", item_id=LIBRARY),
            catalog.VenueRegistered(venue_id="VA2", name="二馆", jurisdiction="500106", item_id=LIBRARY),
        ],
        [catalog.TerminalDeployed(venue_id="VA1", terminal_id="T1", card_forms=["physical"])],
        [catalog.TerminalDeployed(venue_id="VA2", terminal_id="T2", card_forms=["physical"])],
    ]
    batches, n = [], 0
    for day, events in zip(DAYS, per_day, strict=True):
        batch = []
        for event in events:
            n += 1
            batch.append(Delivery("store:test", replace(recorded(event, n, Position(0, n)), recorded_at=day)))
        batches.append(batch)
    return batches


async def history(running: RunningPlatform) -> dict[str, int]:
    d = depth_daily.c
    query = select(d.day, d.level).where(
        d.item_id == LIBRARY, d.jurisdiction == "500106", d.category == "overall"
    )
    async with running.runtime("reporting").db.engine.connect() as conn:
        return {r.day: r.level for r in await conn.execute(query)}


async def run(running: RunningPlatform, batches: list[list[Delivery]], *, fresh: bool) -> None:
    runner = ProjectionRunner(DepthWithHistory(), ListSource(batches), running.runtime("reporting").db)
    if fresh:
        await runner.rebuild()
    await runner.start()
    while await runner.run_once():
        pass


async def test_one_row_per_closed_day_replayed_and_across_a_restart(any_mode: RunningPlatform) -> None:
    await any_mode.runtime("reporting").stop()  # the test feeds the projection itself
    expected = {local_day(DAYS[0]): 0, local_day(DAYS[1]): 1}  # today is still open
    batches = days_of_events()
    await run(any_mode, batches[:2], fresh=True)
    # a new projection (a restart) continues: the day open when it stopped is closed by the next
    await run(any_mode, batches[2:], fresh=False)
    assert await history(any_mode) == expected
    await run(any_mode, days_of_events(), fresh=True)  # a replay from the start writes the same
    assert await history(any_mode) == expected

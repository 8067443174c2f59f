"""Reporting counts an item for a year by the catalogue version in force at the year's end, with
the catalogue's dates (issue 13): the Shizhu catalogue takes effect on 2025-01-20, so its items
are in the 2025 figures and not in 2024's; a catalogue event stored before dates were kept (v1)
reaches the depth projection lifted by its upcaster."""

from __future__ import annotations

from typing import Any

import pytest
from onecard_events.tables import events
from onecard_events.times import utcnow

from tests.support.platform import RunningPlatform
from tests.support.waiting import eventually


@pytest.fixture
def services_under_test() -> tuple[str, ...]:
    return ("catalog", "reporting")


async def shizhu_items(running: RunningPlatform, year: int) -> set[str] | None:
    response = await running.client.get(
        "/reporting/v1/depth", params={"jurisdiction": "500240", "year": year}, headers=running.admin
    )
    if response.status_code != 200:
        return None
    return {r["item_id"] for r in response.json()["rows"]}


async def record_v1(running: RunningPlatform, item: dict[str, Any]) -> None:
    """An item_published as the catalogue wrote it before dates were kept (valid_from: when)."""
    recorded = utcnow()
    data = {
        "item": {**item, "version": 1, "status": "active"},
        "version": 1,
        "valid_from": recorded.isoformat(),
    }
    async with running.platform.store("catalog").db.engine.begin() as conn:
        await conn.execute(
            events.insert().values(
                tx_id=0,
                stream_id=f"item-{item['item_id']}",
                stream_version=1,
                event_id=f"v1-{item['item_id']}",
                event_type="onecard.catalog.item_published",
                schema_version=1,
                data=data,
                metadata={},
                recorded_at=recorded,
            )
        )


async def test_an_item_counts_from_its_catalogues_date(embedded: RunningPlatform) -> None:
    in_2025 = await eventually(lambda: shizhu_items(embedded, 2025), timeout=30)
    assert "500240:6" in in_2025 and all(i.startswith("500240:") for i in in_2025)
    assert await shizhu_items(embedded, 2024) == set(), "the Shizhu catalogue takes effect in 2025"

    official = {
        "item_id": "500240:99",
        "jurisdiction": "500240",
        "seq": 99,
        "kind": "service",
        "name": "旧版本记录的事项",
        "department": "县人力社保局",
        "card_forms": ["physical"],
        "categories": ["identity"],
        "plan": {"2025": 1},
        "source": "石柱府办发〔2025〕11号",
    }
    await record_v1(embedded, official)

    async def counted() -> bool:
        found = await shizhu_items(embedded, 2025)
        return found is not None and "500240:99" in found

    assert await eventually(counted, timeout=30), "lifted to its document's date, so in force in 2025"

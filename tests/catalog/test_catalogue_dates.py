"""Catalogue dates (issue 13): a version is in force from the date it takes effect, not from when
the platform recorded it. The official catalogues take effect on their documents' dates; a dated
PUT or DELETE is seen only from its date; `as_of` picks the version in force then.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from onecard_catalog.adapters import queries
from onecard_catalog.adapters.catalogue_data import extract, loader
from onecard_catalog.adapters.tables import item_versions
from onecard_catalog.bootstrap import MIGRATIONS
from onecard_catalog.domain.items import normalise_item
from onecard_contracts.catalogue_events import OFFICIAL_CATALOGUES
from onecard_events.database import open_database, sqlite_url
from onecard_events.migrations import upgrade
from onecard_events.tables import events
from onecard_events.times import aware
from onecard_service.settings import Settings
from sqlalchemy import select

from tests.catalog.test_catalog_api import COUNTS, V1, assert_problem, new_item, post, running
from tests.catalog.test_catalog_events import distributed_catalog
from tests.support.platform import RunningPlatform

__all__ = ["distributed_catalog", "running"]  # the fixtures, shared with the other catalog tests
SEEDS = extract.default_seeds_dir()
# 成文日期: the first date line of each document, under the issuing office.
DOCUMENT_DATE = re.compile(r"^\s*(20\d\d)年(\d{1,2})月(\d{1,2})日\s*$", re.MULTILINE)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def item_at(running: RunningPlatform, item_id: str, as_of: str | None = None) -> Any:
    params = {"as_of": as_of} if as_of else {}
    return await running.client.get(f"{V1}/items/{item_id}", params=params, headers=running.admin)


async def listed(running: RunningPlatform, **params: str) -> list[dict[str, Any]]:
    response = await running.client.get(f"{V1}/items", params=params, headers=running.admin)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()
    return items


# -- the documents' dates --------------------------------------------------------------------------


@pytest.mark.skipif(SEEDS is None, reason="the shared seeds directory is absent")
def test_official_dates_are_the_documents_dates() -> None:
    assert SEEDS is not None
    found = {}
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        dated = DOCUMENT_DATE.search(text)
        assert dated is not None, path
        year, month, day = dated.groups()
        header = text[: dated.start()]  # the document's own number and issuer, before its date
        for code, official in OFFICIAL_CATALOGUES.items():
            issuer = official.source.split(" ")[0] if code != "500155" else "梁平区人力资源和社会保障局"
            if issuer in header:
                found[code] = f"{year}-{int(month):02d}-{int(day):02d}"
    assert found == {code: o.document_date for code, o in OFFICIAL_CATALOGUES.items()}
    for official in OFFICIAL_CATALOGUES.values():
        midnight_china = datetime.fromisoformat(f"{official.document_date}T00:00:00+08:00")
        assert official.effective_from == iso(midnight_china)
        assert {i["source"] for i in loader.load_catalogue(official.jurisdiction)} == {official.source}


# -- the official catalogues are in force from their documents' dates ------------------------------


async def test_shizhu_item_in_force_from_its_documents_date(running: RunningPlatform) -> None:
    assert any(i["item_id"] == "500240:6" for i in loader.load_catalogue("500240"))
    june = await item_at(running, "500240:6", "2025-06-01T00:00:00Z")
    assert june.status_code == 200, june.text
    item = june.json()
    assert (item["item_id"], item["version"], item["status"]) == ("500240:6", 1, "active")
    assert item["effective_from"] == "2025-01-19T16:00:00Z"  # 2025-01-20 00:00 China time
    assert item["recorded_at"] > "2025-06-01"  # recorded when the platform first started

    new_year = assert_problem(await item_at(running, "500240:6", "2025-01-01T00:00:00Z"), 404)
    assert new_year["code"] == "not_yet_in_force" and "2025-01-19T16:00:00Z" in new_year["detail"]
    assert_problem(await item_at(running, "500240:6", "2025-01-19T15:59:59Z"), 404)
    assert (await item_at(running, "500240:6", "2025-01-19T16:00:00Z")).status_code == 200
    assert (await item_at(running, "500240:6")).json()["version"] == 1


@pytest.mark.parametrize("code", COUNTS)
async def test_each_official_catalogue_from_its_date(running: RunningPlatform, code: str) -> None:
    start = datetime.fromisoformat(OFFICIAL_CATALOGUES[code].effective_from)
    before = await listed(running, jurisdiction=code, as_of=iso(start - timedelta(seconds=1)))
    assert before == []
    on_the_day = await listed(running, jurisdiction=code, as_of=iso(start))
    assert len(on_the_day) == COUNTS[code]
    assert {i["effective_from"] for i in on_the_day} == {OFFICIAL_CATALOGUES[code].effective_from}


# -- dated revisions and retirements ---------------------------------------------------------------


async def test_revision_with_a_future_date_is_seen_only_from_then(running: RunningPlatform) -> None:
    created = await post(running, "/items", new_item())
    assert created.status_code == 201, created.text
    v1 = created.json()
    assert v1["effective_from"] == v1["recorded_at"], "without effective_from: in force when recorded"
    in_a_month = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    revised = await running.client.put(
        f"{V1}/items/500106:90",
        json=new_item(name="社区食堂就餐结算", effective_from=in_a_month.isoformat()),
        headers=running.admin,
    )
    assert revised.status_code == 200, revised.text
    assert (revised.json()["version"], revised.json()["effective_from"]) == (2, iso(in_a_month))

    before = (await item_at(running, "500106:90", iso(in_a_month - timedelta(seconds=1)))).json()
    assert (before["version"], before["name"]) == (1, "社区食堂就餐")
    after = (await item_at(running, "500106:90", iso(in_a_month))).json()
    assert (after["version"], after["name"]) == (2, "社区食堂就餐结算")
    assert (await item_at(running, "500106:90")).json()["version"] == 1, "not in force yet"
    names = {i["item_id"]: i["name"] for i in await listed(running, jurisdiction="500106")}
    assert names["500106:90"] == "社区食堂就餐"
    later = await listed(running, jurisdiction="500106", as_of=iso(in_a_month + timedelta(days=1)))
    assert {i["item_id"]: i["name"] for i in later}["500106:90"] == "社区食堂就餐结算"

    # Entered out of order: a version dated between the two is in force between them.
    in_a_week = in_a_month - timedelta(days=23)
    between = await running.client.put(
        f"{V1}/items/500106:90",
        params={"effective_from": iso(in_a_week)},
        json=new_item(name="社区食堂"),
        headers=running.admin,
    )
    assert between.json()["version"] == 3
    versions = [
        (await item_at(running, "500106:90", iso(at))).json()["version"]
        for at in (in_a_week - timedelta(seconds=1), in_a_week, in_a_month, in_a_month + timedelta(days=9))
    ]
    assert versions == [1, 3, 2, 2]


async def test_same_date_goes_to_the_version_recorded_last(running: RunningPlatform) -> None:
    day = "2030-03-01T00:00:00+08:00"
    await post(running, "/items", new_item())
    for name in ("甲", "乙"):
        answer = await running.client.put(
            f"{V1}/items/500106:90", json=new_item(name=name, effective_from=day), headers=running.admin
        )
        assert answer.status_code == 200, answer.text
    assert (await item_at(running, "500106:90", "2030-03-01")).json()["name"] == "乙"


async def test_retirement_with_a_date(running: RunningPlatform) -> None:
    await post(running, "/items", new_item("500106:91"))
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=10)
    too_early = await running.client.delete(
        f"{V1}/items/500106:91", params={"effective_from": "2001-01-01T00:00:00Z"}, headers=running.admin
    )
    assert_problem(too_early, 422, "effective_from")
    retired = await running.client.delete(
        f"{V1}/items/500106:91", params={"effective_from": iso(soon)}, headers=running.admin
    )
    assert retired.status_code == 200, retired.text
    assert (retired.json()["status"], retired.json()["effective_from"]) == ("retired", iso(soon))

    before = await item_at(running, "500106:91", iso(soon - timedelta(seconds=1)))
    assert (before.status_code, before.json()["status"]) == (200, "active")
    gone = assert_problem(await item_at(running, "500106:91", iso(soon)), 404)
    assert gone["code"] == "no_longer_in_force"
    now_listed = [i["item_id"] for i in await listed(running, jurisdiction="500106")]
    assert "500106:91" in now_listed, "in force until its retirement takes effect"
    after_listed = [i["item_id"] for i in await listed(running, jurisdiction="500106", as_of=iso(soon))]
    assert "500106:91" not in after_listed
    retired_then = await listed(running, status="retired", as_of=iso(soon))
    assert [i["item_id"] for i in retired_then] == ["500106:91"]
    # Once recorded, a retirement takes no more revisions (publish a new item instead).
    assert_problem(
        await running.client.put(
            f"{V1}/items/500106:91", json=new_item("500106:91", name="z"), headers=running.admin
        ),
        409,
    )


async def test_cached_list_follows_a_version_taking_effect(running: RunningPlatform) -> None:
    await post(running, "/items", new_item())
    soon = datetime.now(UTC) + timedelta(seconds=1)
    await running.client.put(
        f"{V1}/items/500106:90", json=new_item(name="新名称", effective_from=iso(soon)), headers=running.admin
    )
    names = {i["item_id"]: i["name"] for i in await listed(running, jurisdiction="500106")}
    assert names["500106:90"] == "社区食堂就餐"
    await asyncio.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.1)
    names = {i["item_id"]: i["name"] for i in await listed(running, jurisdiction="500106")}
    assert names["500106:90"] == "新名称"


@pytest.mark.parametrize("value", ["2025-07-01", "2025-07-01T00:00:00", "soon"])
async def test_effective_from_needs_a_time_with_an_offset(running: RunningPlatform, value: str) -> None:
    await post(running, "/items", new_item())
    answer = await running.client.put(
        f"{V1}/items/500106:90", json=new_item(name="x", effective_from=value), headers=running.admin
    )
    assert_problem(answer, 422, "effective_from")
    deleted = await running.client.delete(
        f"{V1}/items/500106:90", params={"effective_from": value}, headers=running.admin
    )
    assert_problem(deleted, 422, "effective_from")


async def test_dates_on_postgresql(distributed_catalog: tuple[RunningPlatform, Settings]) -> None:
    """The same answers from the distributed catalog (PostgreSQL), where times compare natively."""
    running, _ = distributed_catalog
    await test_shizhu_item_in_force_from_its_documents_date(running)
    await test_revision_with_a_future_date_is_seen_only_from_then(running)
    await test_retirement_with_a_date(running)


# -- a catalogue recorded before dates were kept ---------------------------------------------------


async def test_migration_dates_the_versions_a_v1_catalogue_recorded(tmp_path: Path) -> None:
    """A store written by the v1 catalogue (valid_from: when recorded) upgraded to catalog_0003:
    the official item is in force from its document's date, a revision and a retirement from
    when they were recorded."""
    db = open_database(sqlite_url(tmp_path, "catalog"), schema="catalog")
    try:
        await upgrade(db, MIGRATIONS, "catalog_0002")
        official = normalise_item(
            next(i for i in loader.load_catalogue("500240") if i["item_id"] == "500240:6")
        )
        v1 = [
            (
                "item_published",
                {"item": {**official, "version": 1}, "version": 1, "valid_from": "2026-01-05T00:00:00Z"},
            ),
            (
                "item_published",
                {
                    "item": {**official, "version": 2, "name": "新"},
                    "version": 2,
                    "valid_from": "2026-02-01T00:00:00Z",
                },
            ),
            ("item_retired", {"item_id": "500240:6", "version": 3, "valid_from": "2026-03-01T00:00:00Z"}),
        ]
        async with db.engine.begin() as conn:
            for number, (kind, data) in enumerate(v1, start=1):
                await conn.execute(
                    events.insert().values(
                        tx_id=0,
                        stream_id="item-500240:6",
                        stream_version=number,
                        event_id=f"v1-{number}",
                        event_type=f"onecard.catalog.{kind}",
                        schema_version=1,
                        data=data,
                        metadata={},
                        recorded_at=datetime.fromisoformat(str(data["valid_from"])),
                    )
                )
        await upgrade(db, MIGRATIONS)
        async with db.engine.connect() as conn:
            spans = {
                r.version: (iso(aware(r.valid_from)), r.valid_to and iso(aware(r.valid_to)), r.item)
                for r in await conn.execute(select(item_versions).order_by(item_versions.c.version))
            }
            in_2025 = await queries.get_item(conn, "500240:6", datetime(2025, 6, 1, tzinfo=UTC))
    finally:
        await db.engine.dispose()
    assert {v: s[:2] for v, s in spans.items()} == {
        1: ("2025-01-19T16:00:00Z", "2026-02-01T00:00:00Z"),
        2: ("2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"),
        3: ("2026-03-01T00:00:00Z", None),
    }
    assert spans[1][2]["recorded_at"] == "2026-01-05T00:00:00Z"
    assert (spans[3][2]["status"], spans[3][2]["name"]) == ("retired", "新")
    assert in_2025 is not None and in_2025["version"] == 1

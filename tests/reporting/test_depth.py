"""Depth, cross-region and progress over a known world, in both modes."""

from __future__ import annotations

import io
from typing import Any

import openpyxl
from onecard_service.auth import Principal

from tests.reporting.world import EXPECTED_DEPTH, HOSPITAL, LIBRARY, OURS, PENSION, YEAR, build_world
from tests.support.platform import RunningPlatform, token_for
from tests.support.waiting import eventually

KEYS = (
    "item_id",
    "jurisdiction",
    "category",
    "numerator",
    "denominator",
    "ratio",
    "level",
    "planned_level",
    "status",
)


def _key(r: dict[str, Any]) -> tuple[str, str, str]:
    return (r["item_id"], r["jurisdiction"], r["category"])


def compact(rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {_key(r): {k: r[k] for k in KEYS} for r in rows if r["item_id"] in OURS}


async def depth(running: RunningPlatform, **params: Any) -> dict[str, Any]:
    response = await running.client.get(
        "/reporting/v1/depth", params={"year": YEAR, **params}, headers=running.admin
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def world_in_place(running: RunningPlatform) -> dict[str, Any]:
    await build_world(running)
    expected = compact(EXPECTED_DEPTH)

    async def check() -> dict[str, Any] | None:
        # The rows compared here do not show the 30-day activity, which comes from identity's
        # events: in the distributed mode those may reach reporting after the catalogue's, so
        # the wait covers them too.
        body = await depth(running)
        active = {_key(r): r.get("active_numerator") for r in body["rows"]}
        settled = active.get((LIBRARY, "500000", "identity")) == 2
        return body if compact(body["rows"]) == expected and settled else None

    try:
        return await eventually(check, timeout=40)  # type: ignore[no-any-return]
    except AssertionError:
        got = compact((await depth(running))["rows"])
        diff = {
            k: (got.get(k), expected.get(k))
            for k in set(got) | set(expected)
            if got.get(k) != expected.get(k)
        }
        raise AssertionError(f"depth rows differ (got, expected): {diff}") from None


async def test_depth_row_by_row(any_mode: RunningPlatform) -> None:
    body = await world_in_place(any_mode)
    assert {"as_of", "lag_seconds", "rows"} <= set(body)
    assert body["lag_seconds"] >= 0
    by_key = {_key(r): r for r in body["rows"]}
    library = by_key[(LIBRARY, "500000", "identity")]
    assert library["name"] == "图书馆入馆、借阅" and library["department"] == "测试文化旅游委"
    # VA1 and VA2 verified within 30 days; VA5 only 40 days ago; VA4's verification was refused
    assert (library["active_numerator"], library["active_ratio"]) == (2, 0.4)
    hospital = by_key[(HOSPITAL, "500106", "payment")]
    assert hospital["name"] == "医院就诊缴费"  # version 2 is in force, version 3 only from 2999
    assert hospital["card_account_settled"] and hospital["agreement_ecard_settled"]
    assert hospital["agreement_share"] == 0.3333
    # no rows for the support item or the retired item
    assert {r["item_id"] for r in body["rows"]} & OURS == {LIBRARY, HOSPITAL, PENSION}


async def test_filters_and_department_scope(any_mode: RunningPlatform) -> None:
    await world_in_place(any_mode)
    rows = (await depth(any_mode, jurisdiction="500111", category="overall"))["rows"]
    assert {_key(r) for r in rows if r["item_id"] in OURS} == {
        (PENSION, "500111", "overall"),
        (LIBRARY, "500111", "overall"),
    }
    assert all(r["jurisdiction"] == "500111" and r["category"] == "overall" for r in rows)
    rows = (await depth(any_mode, item_id=HOSPITAL))["rows"]
    assert [r["category"] for r in rows] == ["identity", "payment", "overall"]

    culture = token_for(any_mode, Principal("d1", "department", department="测试文化旅游委"))
    own = await any_mode.client.get("/reporting/v1/depth", params={"year": YEAR}, headers=culture)
    assert own.status_code == 200 and {r["item_id"] for r in own.json()["rows"]} & OURS == {LIBRARY}
    assert {r["department"] for r in own.json()["rows"]} == {"测试文化旅游委"}
    other = await any_mode.client.get(
        "/reporting/v1/depth", params={"department": "测试人社局"}, headers=culture
    )
    assert other.status_code == 403
    assert other.headers["content-type"] == "application/problem+json"
    venue = token_for(any_mode, Principal("v1", "venue", venues=frozenset({"VA1"})))
    assert (await any_mode.client.get("/reporting/v1/depth", headers=venue)).status_code == 403
    assert (await any_mode.client.get("/reporting/v1/depth")).status_code == 401


async def test_cross_region(any_mode: RunningPlatform) -> None:
    await world_in_place(any_mode)

    async def rows(**params: str) -> list[dict[str, Any]]:
        response = await any_mode.client.get(
            "/reporting/v1/cross-region", params=params, headers=any_mode.admin
        )
        assert response.status_code == 200, response.text
        assert {"as_of", "lag_seconds"} <= set(response.json())
        return response.json()["rows"]  # type: ignore[no-any-return]

    async def both_directions() -> list[dict[str, Any]] | None:
        found = await rows(partner="510000")
        return found if found and found[0]["outbound"] == 2 else None

    found = await eventually(both_directions, timeout=30)
    assert [{k: r[k] for k in ("item_id", "department", "inbound", "outbound")} for r in found] == [
        {"item_id": LIBRARY, "department": "测试文化旅游委", "inbound": 2, "outbound": 2}
    ]
    assert await rows(partner="510000", jurisdiction="500111") == []
    district = await rows(partner="510000", jurisdiction="500106")
    assert (district[0]["inbound"], district[0]["outbound"]) == (2, 2)
    assert await rows(partner="540000") == []
    sichuan = token_for(any_mode, Principal("p1", "partner", region="510000"))
    assert (
        await any_mode.client.get("/reporting/v1/cross-region", params={"partner": "520000"}, headers=sichuan)
    ).status_code == 403


EXPECTED_PROGRESS = {
    PENSION: (1, None, "no_plan", 1, "no_plan", None, "not_applicable"),
    LIBRARY: (1, 2, "behind", 0, "behind", 0, "behind"),
    HOSPITAL: (2, 2, "met", 1, "met", 0, "behind"),
}
PROGRESS_KEYS = (
    "achieved_level",
    "planned_level",
    "status",
    "physical_level",
    "physical_status",
    "ecard_level",
    "ecard_status",
)


async def test_progress_json_csv_xlsx(any_mode: RunningPlatform) -> None:
    await world_in_place(any_mode)
    response = await any_mode.client.get(
        "/reporting/v1/progress", params={"year": YEAR}, headers=any_mode.admin
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert {"as_of", "lag_seconds", "rows", "summary"} <= set(body)
    got = {r["item_id"]: tuple(r[k] for k in PROGRESS_KEYS) for r in body["rows"] if r["item_id"] in OURS}
    assert got == EXPECTED_PROGRESS
    mine = await any_mode.client.get(
        "/reporting/v1/progress",
        params={"year": YEAR, "department": "测试卫生健康委"},
        headers=any_mode.admin,
    )
    assert mine.json()["summary"] == {"items": 1, "planned": 1, "met": 1, "progress": 1.0}

    csv_text = (
        await any_mode.client.get(
            "/reporting/v1/progress", params={"year": YEAR, "format": "csv"}, headers=any_mode.admin
        )
    ).text
    assert csv_text.splitlines()[0].startswith("item_id,name,jurisdiction,department")
    assert len([line for line in csv_text.splitlines() if line.split(",")[0] in OURS]) == 3

    xlsx = await any_mode.client.get(
        "/reporting/v1/progress", params={"year": YEAR, "format": "xlsx"}, headers=any_mode.admin
    )
    assert xlsx.status_code == 200 and "X-As-Of" in xlsx.headers
    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    sheet = book[f"progress {YEAR}"]
    values = list(sheet.iter_rows(values_only=True))
    by_item = {v[0]: v for v in values[1:] if v[0] in OURS}
    assert len(by_item) == 3 and values[0][0] == "事项编号 item"
    assert by_item[HOSPITAL][3] == "测试卫生健康委"
    assert by_item[HOSPITAL][5:] == (2, 2, "met", 1, "met", 0, "behind")
    assert by_item[PENSION][5:] == (1, None, "no_plan", 1, "no_plan", None, "not_applicable")

    health = token_for(any_mode, Principal("d2", "department", department="测试卫生健康委"))
    own = await any_mode.client.get("/reporting/v1/progress", params={"year": YEAR}, headers=health)
    assert [r["item_id"] for r in own.json()["rows"]] == [HOSPITAL]


async def test_gauges(any_mode: RunningPlatform) -> None:
    await world_in_place(any_mode)

    async def scraped() -> str | None:
        text = (await any_mode.client.get("/reporting/metrics")).text
        return text if 'onecard_depth_level{category="payment"' in text else None

    text = await eventually(scraped, timeout=20)
    assert (
        'onecard_depth_level{category="payment",department="测试卫生健康委",item_id="500106:905",'
        'jurisdiction="500106"} 2.0'
    ) in text
    assert (
        'onecard_depth_ratio{category="identity",department="测试文化旅游委",item_id="500000:930",'
        'jurisdiction="500000"} 0.6'
    ) in text
    assert 'onecard_depth_planned_level{category="overall"' in text
    assert 'onecard_projection_lag_seconds{projection="reporting_depth"}' in text

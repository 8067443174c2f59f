"""The catalog's HTTP contract on the running platform: catalogue, versions, places, clients, errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from onecard_events.model import START
from onecard_service.auth import Principal
from onecard_service.settings import Settings

from tests.support.platform import (
    RunningPlatform,
    embedded_settings,
    start_platform,
    stop_platform,
    token_for,
)

V1 = "/catalog/v1"
COUNTS = {"500000": 47, "500240": 38, "500111": 43, "500155": 160, "500106": 3}


async def start_services(settings: Settings, names: tuple[str, ...] = ("catalog",)) -> RunningPlatform:
    """Only the services a test needs: the catalog's tests do not depend on the other four."""
    running, _ = await start_platform(settings, names)
    return running


stop_services = stop_platform


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[RunningPlatform]:
    """The catalog alone on the embedded platform (SQLite and the in-process log)."""
    started = await start_services(embedded_settings(tmp_path / "data"))
    yield started
    await stop_services(started)


def new_item(item_id: str = "500106:90", **changes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "item_id": item_id,
        "kind": "service",
        "name": "社区食堂就餐",
        "description": "持卡在社区食堂就餐结算",
        "department": "区民政局",
        "card_forms": ["physical", "electronic"],
        "categories": ["identity", "payment"],
        "plan": {"2025": 1, "2026": 2},
    }
    item.update(changes)
    return item


def assert_problem(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
    return body


async def post(running: RunningPlatform, path: str, body: dict[str, Any]) -> httpx.Response:
    return await running.client.post(V1 + path, json=body, headers=running.admin)


# -- the official catalogues ---------------------------------------------------------------------


@pytest.mark.parametrize(("jurisdiction", "count"), COUNTS.items())
async def test_official_catalogue_counts(running: RunningPlatform, jurisdiction: str, count: int) -> None:
    response = await running.client.get(
        f"{V1}/items", params={"jurisdiction": jurisdiction}, headers=running.admin
    )
    assert response.status_code == 200
    items = response.json()
    assert len(items) == count
    assert {i["jurisdiction"] for i in items} == {jurisdiction}
    assert len({i["item_id"] for i in items}) == count


async def test_sample_of_item_fields(running: RunningPlatform) -> None:
    library = (await running.client.get(f"{V1}/items/500000:30", headers=running.admin)).json()
    assert library["name"] == "图书馆入馆、借阅"
    assert library["department"] == "市文化旅游委"
    assert library["categories"] == ["identity"]
    assert library["card_forms"] == ["physical", "electronic"]
    assert library["plan"]["2027"] == 3
    assert (library["version"], library["status"], library["kind"]) == (1, "active", "service")
    liangping = (await running.client.get(f"{V1}/items/500155:A1", headers=running.admin)).json()
    assert liangping["seq"] == "A1" and liangping["function_classes"] == ["身份凭证"]
    support = await running.client.get(
        f"{V1}/items", params={"jurisdiction": "500000", "kind": "support"}, headers=running.admin
    )
    assert {i["kind"] for i in support.json()} == {"support"} and len(support.json()) == 3


async def test_filters(running: RunningPlatform) -> None:
    get = running.client.get
    payment = (await get(f"{V1}/items", params={"category": "payment"}, headers=running.admin)).json()
    assert payment and all("payment" in i["categories"] for i in payment)
    by_dept = (await get(f"{V1}/items", params={"department": "市文化旅游委"}, headers=running.admin)).json()
    assert by_dept and {i["department"] for i in by_dept} == {"市文化旅游委"}
    everything = (await get(f"{V1}/items", headers=running.admin)).json()
    assert len(everything) == sum(COUNTS.values())
    assert_problem(await get(f"{V1}/items", params={"category": "x"}, headers=running.admin), 422, "category")
    assert_problem(
        await get(f"{V1}/items", params={"as_of": "yesterday"}, headers=running.admin), 422, "as_of"
    )


async def test_jurisdictions(running: RunningPlatform) -> None:
    listed = (await running.client.get(f"{V1}/jurisdictions", headers=running.admin)).json()
    assert {"code": "510000", "name": "四川省", "kind": "partner"} in listed
    assert {"code": "500000", "name": "重庆市", "kind": "municipal"} in listed
    added = await post(running, "/jurisdictions", {"code": "500101", "name": "万州区", "kind": "district"})
    assert added.status_code == 201
    assert_problem(
        await post(running, "/jurisdictions", {"code": "500101", "name": "万州区", "kind": "district"}), 409
    )
    assert_problem(
        await post(running, "/jurisdictions", {"code": "5001", "name": "x", "kind": "district"}), 422, "code"
    )
    assert_problem(
        await post(running, "/jurisdictions", {"code": "500102", "name": "x", "kind": "city"}), 422, "kind"
    )


async def test_reads_need_a_credential_and_writes_a_role(running: RunningPlatform) -> None:
    assert_problem(await running.client.get(f"{V1}/items"), 401)
    venue_client = token_for(running, Principal("c1", "venue", venues=frozenset({"v1"})))
    assert (await running.client.get(f"{V1}/items/500000:30", headers=venue_client)).status_code == 200
    assert_problem(await running.client.post(f"{V1}/items", json=new_item(), headers=venue_client), 403)
    operator = token_for(running, Principal("c2", "operator"))
    assert_problem(await running.client.post(f"{V1}/items", json=new_item(), headers=operator), 403)
    assert_problem(
        await running.client.post(f"{V1}/clients", json={"role": "admin", "name": "x"}, headers=operator), 403
    )
    spec = (await running.client.get("/catalog/openapi.json")).json()
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert spec["paths"][f"{V1}/items"]["post"]["security"] == [{"bearer": []}]


# -- items: publish, revise, retire, as_of -------------------------------------------------------


async def test_publish_revise_retire_with_as_of(running: RunningPlatform) -> None:
    created = await post(running, "/items", new_item())
    assert created.status_code == 201, created.text
    assert created.json()["version"] == 1 and created.json()["seq"] == 90
    v1_time = (await running.client.get(f"{V1}/items", headers=running.admin)).json()  # warm the cache
    assert any(i["item_id"] == "500106:90" for i in v1_time)
    await asyncio.sleep(0.01)
    between_1_2 = datetime.now(UTC).isoformat()
    await asyncio.sleep(0.01)
    revised = await running.client.put(
        f"{V1}/items/500106:90", json=new_item(name="社区食堂就餐结算", version=1), headers=running.admin
    )
    assert revised.status_code == 200, revised.text
    assert revised.json()["version"] == 2
    # A repeated PUT with the same content records nothing; a stale version is a conflict.
    again = await running.client.put(
        f"{V1}/items/500106:90", json=new_item(name="社区食堂就餐结算"), headers=running.admin
    )
    assert again.json()["version"] == 2
    stale = await running.client.put(
        f"{V1}/items/500106:90", json=new_item(name="y", version=1), headers=running.admin
    )
    assert_problem(stale, 409)
    await asyncio.sleep(0.01)
    between_2_3 = datetime.now(UTC).isoformat()
    await asyncio.sleep(0.01)
    retired = await running.client.delete(f"{V1}/items/500106:90", headers=running.admin)
    assert (
        retired.status_code == 200
        and retired.json()["status"] == "retired"
        and retired.json()["version"] == 3
    )

    get = running.client.get
    old = (await get(f"{V1}/items/500106:90", params={"as_of": between_1_2}, headers=running.admin)).json()
    assert (old["version"], old["name"], old["status"]) == (1, "社区食堂就餐", "active")
    mid = (await get(f"{V1}/items/500106:90", params={"as_of": between_2_3}, headers=running.admin)).json()
    assert (mid["version"], mid["name"]) == (2, "社区食堂就餐结算")
    now = (await get(f"{V1}/items/500106:90", headers=running.admin)).json()
    assert now["status"] == "retired"
    listed = (await get(f"{V1}/items", params={"jurisdiction": "500106"}, headers=running.admin)).json()
    assert len(listed) == 3, "a retired item leaves the default (active) list"
    then = (
        await get(
            f"{V1}/items", params={"jurisdiction": "500106", "as_of": between_2_3}, headers=running.admin
        )
    ).json()
    assert len(then) == 4
    retired_list = (await get(f"{V1}/items", params={"status": "retired"}, headers=running.admin)).json()
    assert [i["item_id"] for i in retired_list] == ["500106:90"]
    assert_problem(
        await get(f"{V1}/items/500106:90", params={"as_of": "2000-01-01"}, headers=running.admin), 404
    )
    assert_problem(
        await running.client.put(f"{V1}/items/500106:90", json=new_item(), headers=running.admin), 409
    )
    assert (await running.client.delete(f"{V1}/items/500106:90", headers=running.admin)).status_code == 200


async def test_item_errors(running: RunningPlatform) -> None:
    assert_problem(await running.client.get(f"{V1}/items/500000:999", headers=running.admin), 404)
    assert_problem(await running.client.delete(f"{V1}/items/500000:999", headers=running.admin), 404)
    assert_problem(
        await running.client.put(
            f"{V1}/items/500000:999", json=new_item("500000:999"), headers=running.admin
        ),
        404,
    )
    assert_problem(await post(running, "/items", new_item("500000:30")), 409)
    assert_problem(await post(running, "/items", new_item("999999:1")), 422, "jurisdiction")
    assert_problem(await post(running, "/items", new_item("lib-1")), 422, "item_id")
    assert_problem(
        await post(running, "/items", new_item(card_forms=["physical", "paper"])), 422, "card_forms.1"
    )
    assert_problem(await post(running, "/items", new_item(categories=["fun"])), 422, "categories.0")
    assert_problem(await post(running, "/items", new_item(card_forms=[])), 422, "card_forms")
    body = assert_problem(await post(running, "/items", new_item(plan={"2025": 4, "2026": "逐步推进"})), 422)
    assert {e["field"] for e in body["errors"]} == {"plan.2025", "plan.2026"}
    assert_problem(await post(running, "/items", new_item(plan={"next": 2})), 422, "plan.next")
    assert_problem(await post(running, "/items", new_item(kind="other")), 422, "kind")
    assert_problem(await post(running, "/items", new_item(jurisdiction="500000")), 422, "jurisdiction")
    mismatch = await running.client.put(
        f"{V1}/items/500000:30", json=new_item("500000:31"), headers=running.admin
    )
    assert_problem(mismatch, 422, "item_id")


async def test_item_from_jurisdiction_and_seq(running: RunningPlatform) -> None:
    body = new_item()
    del body["item_id"]
    created = await post(running, "/items", {**body, "jurisdiction": "500155", "seq": "B66"})
    assert created.status_code == 201, created.text
    assert created.json()["item_id"] == "500155:B66"


# -- venues, terminals, merchants ----------------------------------------------------------------


async def test_venues_and_terminals(running: RunningPlatform) -> None:
    venue = {
        "venue_id": "spb-library",
        "name": "沙坪坝区图书馆",
        "jurisdiction": "500106",
        "item_id": "500000:30",
    }
    created = await post(running, "/venues", venue)
    assert created.status_code == 201, created.text
    assert created.json() == {**venue, "terminals": []}
    assert_problem(await post(running, "/venues", venue), 409)
    terminal = await post(
        running, "/venues/spb-library/terminals", {"terminal_id": "gate-1", "card_forms": ["physical"]}
    )
    assert terminal.status_code == 201, terminal.text
    assert_problem(
        await post(
            running, "/venues/spb-library/terminals", {"terminal_id": "gate-1", "card_forms": ["physical"]}
        ),
        409,
    )
    assert_problem(
        await post(running, "/venues/spb-library/terminals", {"terminal_id": "g2", "card_forms": ["paper"]}),
        422,
        "card_forms.0",
    )
    assert_problem(
        await post(running, "/venues/spb-library/terminals", {"terminal_id": "g2", "card_forms": []}),
        422,
        "card_forms",
    )
    assert_problem(
        await post(running, "/venues/nowhere/terminals", {"terminal_id": "g2", "card_forms": ["physical"]}),
        404,
    )
    listed = await running.client.get(f"{V1}/venues", params={"item_id": "500000:30"}, headers=running.admin)
    assert listed.json()[0]["terminals"] == [
        {"terminal_id": "gate-1", "card_forms": ["physical"], "active": True}
    ]
    by_place = await running.client.get(
        f"{V1}/venues", params={"jurisdiction": "500111"}, headers=running.admin
    )
    assert by_place.json() == []
    gone = await running.client.delete(f"{V1}/venues/spb-library/terminals/gate-1", headers=running.admin)
    assert gone.status_code == 204
    assert (
        await running.client.delete(f"{V1}/venues/spb-library/terminals/gate-1", headers=running.admin)
    ).status_code == 204
    assert_problem(
        await running.client.delete(f"{V1}/venues/spb-library/terminals/gate-9", headers=running.admin), 404
    )
    one = (await running.client.get(f"{V1}/venues/spb-library", headers=running.admin)).json()
    assert one["terminals"][0]["active"] is False
    assert_problem(await running.client.get(f"{V1}/venues/nowhere", headers=running.admin), 404)


async def test_venue_errors(running: RunningPlatform) -> None:
    def venue(**changes: str) -> dict[str, str]:
        return {
            "venue_id": "v-1",
            "name": "场馆",
            "jurisdiction": "500106",
            "item_id": "500000:30",
            **changes,
        }

    assert_problem(await post(running, "/venues", venue(item_id="500000:999")), 422, "item_id")
    assert_problem(await post(running, "/venues", venue(jurisdiction="999999")), 422, "jurisdiction")
    # 500111 items are the district's own: a Shapingba venue cannot serve them.
    identity_item = next(
        i["item_id"]
        for i in (
            await running.client.get(
                f"{V1}/items",
                params={"jurisdiction": "500111", "category": "identity"},
                headers=running.admin,
            )
        ).json()
    )
    assert_problem(await post(running, "/venues", venue(item_id=identity_item)), 422, "jurisdiction")
    payment_only = await post(running, "/items", new_item("500106:91", categories=["payment"]))
    assert payment_only.status_code == 201
    body = assert_problem(await post(running, "/venues", venue(item_id="500106:91")), 422, "item_id")
    assert "identity" in body["detail"]
    assert_problem(await post(running, "/venues", venue(venue_id="bad id!")), 422, "venue_id")
    assert_problem(await post(running, "/venues", {"venue_id": "v-2"}), 422, "name")
    await post(running, "/items", new_item("500106:92"))
    await running.client.delete(f"{V1}/items/500106:92", headers=running.admin)
    retired = assert_problem(await post(running, "/venues", venue(item_id="500106:92")), 422, "item_id")
    assert "retired" in retired["detail"]


async def test_merchants_and_agreement(running: RunningPlatform) -> None:
    await post(running, "/items", new_item("500106:93"))
    merchant = {
        "merchant_id": "canteen-1",
        "name": "社区食堂",
        "jurisdiction": "500106",
        "item_id": "500106:93",
    }
    operator = token_for(running, Principal("ops", "operator"))
    created = await running.client.post(f"{V1}/merchants", json=merchant, headers=operator)
    assert created.status_code == 201, created.text
    assert created.json() == {**merchant, "agreement": False}
    assert_problem(await post(running, "/merchants", merchant), 409)
    joined = await running.client.put(f"{V1}/merchants/canteen-1/ecard-agreement", headers=operator)
    assert joined.status_code == 200 and joined.json()["agreement"] is True
    left = await running.client.delete(f"{V1}/merchants/canteen-1/ecard-agreement", headers=operator)
    assert left.status_code == 200 and left.json()["agreement"] is False
    assert_problem(await running.client.put(f"{V1}/merchants/nobody/ecard-agreement", headers=operator), 404)
    listed = await running.client.get(f"{V1}/merchants", params={"item_id": "500106:93"}, headers=operator)
    assert [m["merchant_id"] for m in listed.json()] == ["canteen-1"]
    library_merchant = {**merchant, "merchant_id": "m-2", "item_id": "500000:30"}
    body = assert_problem(await post(running, "/merchants", library_merchant), 422, "item_id")
    assert "payment" in body["detail"]
    assert_problem(
        await post(running, "/merchants", {**merchant, "merchant_id": "m-3", "item_id": "500000:998"}),
        422,
        "item_id",
    )
    await running.client.delete(f"{V1}/items/500106:93", headers=running.admin)
    assert_problem(await post(running, "/merchants", {**merchant, "merchant_id": "m-4"}), 422, "item_id")
    venue_client = token_for(running, Principal("c1", "venue", venues=frozenset({"v1"})))
    assert_problem(await running.client.post(f"{V1}/merchants", json=merchant, headers=venue_client), 403)


# -- clients -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"role": "venue", "name": "闸机"}, "venues"),
        ({"role": "merchant", "name": "食堂"}, "merchants"),
        ({"role": "department", "name": "文旅委"}, "department"),
        ({"role": "partner", "name": "四川"}, "region"),
        ({"role": "partner", "name": "四川", "region": "500106"}, "region"),
        ({"role": "venue", "name": "闸机", "venues": ["v1"], "department": "市文化旅游委"}, "department"),
        ({"role": "admin", "name": "x", "venues": ["v1"]}, "venues"),
        (
            {"role": "department", "name": "x", "department": "区民政局", "jurisdiction": "999999"},
            "jurisdiction",
        ),
        ({"role": "root", "name": "x"}, "role"),
        ({"role": "venue", "name": "x", "venues": ["bad id"]}, "venues.0"),
    ],
)
async def test_client_scope_errors(running: RunningPlatform, body: dict[str, Any], field: str) -> None:
    assert_problem(await post(running, "/clients", body), 422, field)


async def test_client_register_and_revoke(running: RunningPlatform) -> None:
    created = await post(
        running,
        "/clients",
        {"role": "department", "name": "文旅委报表", "department": "市文化旅游委", "jurisdiction": "500000"},
    )
    assert created.status_code == 201, created.text
    client = created.json()
    assert client["client_id"].startswith("cl_") and client["token"]
    verified = running.platform.token_verifier.verify(client["token"])
    assert (verified.role, verified.department, verified.jurisdiction) == (
        "department",
        "市文化旅游委",
        "500000",
    )
    stored = (await running.client.get(f"{V1}/clients/{client['client_id']}", headers=running.admin)).json()
    assert stored["status"] == "active" and "token" not in stored
    revoked = await running.client.delete(f"{V1}/clients/{client['client_id']}", headers=running.admin)
    assert revoked.status_code == 204
    assert (
        await running.client.delete(f"{V1}/clients/{client['client_id']}", headers=running.admin)
    ).status_code == 204
    assert_problem(await running.client.delete(f"{V1}/clients/cl_unknown", headers=running.admin), 404)
    assert (await running.client.get(f"{V1}/clients/{client['client_id']}", headers=running.admin)).json()[
        "status"
    ] == "revoked"
    # The token appears nowhere in the catalog's log.
    records = await running.runtime("catalog").store.read_all(START, 10000)
    assert all(client["token"] not in str(r.data) for r in records)

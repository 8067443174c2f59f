"""The department console in a real Chromium, the distributed mode (PostgreSQL and Kafka, each
service's own app): sign in with a department's client token, see only its items and the charts
drawn, download the progress report; a wrong or revoked token is refused; scope as the API's."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import httpx
import openpyxl
import pytest

from tests.reporting.test_depth import world_in_place
from tests.reporting.world import HOSPITAL, LIBRARY, PENSION, YEAR
from tests.support.browser import DESKTOP, screenshot
from tests.support.platform import (
    RunningPlatform,
    fresh_embedded_settings,
    start_platform,
    stop_platform,
)
from tests.support.serving import served_on_port
from tests.support.waiting import eventually

CHARTS = ("chart-depth", "chart-ratios", "chart-trend", "chart-cross")
Console = tuple[RunningPlatform, str]  # the platform and its base URL


@pytest.fixture(scope="module")
async def console(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Console]:
    """One embedded platform for the module, with the reporting tests' known world."""
    settings = await fresh_embedded_settings(tmp_path_factory.mktemp("console") / "data")
    running, dispatcher = await start_platform(settings)
    await world_in_place(running)
    async with served_on_port(dispatcher) as port:
        yield running, f"http://127.0.0.1:{port}"
    await stop_platform(running)


async def client_token(running: RunningPlatform, **scope: str) -> tuple[str, str]:
    body = {"role": "department", "name": "console test", **scope}
    response = await running.client.post("/catalog/v1/clients", json=body, headers=running.admin)
    assert response.status_code == 201, response.text
    answer = response.json()
    return answer["client_id"], answer["token"]


async def sign_in(page: Any, base: str, token: str) -> None:
    await page.goto(f"{base}/reporting/console/")
    await page.fill("#token", token)
    await page.click("button[type=submit]")


async def test_department_sees_its_items_charts_and_report(console: Console, browser: Any) -> None:
    running, base = console
    _, token = await client_token(running, department="测试文化旅游委")
    context = await browser.new_context(viewport=DESKTOP, locale="zh-CN", accept_downloads=True)
    page = await context.new_page()
    await sign_in(page, base, token)
    assert "测试文化旅游委" in await page.inner_text("h1")
    rows = page.locator("#items tr[data-item]")
    shown = set(await rows.evaluate_all("rows => rows.map(r => r.dataset.item)"))
    assert shown == {LIBRARY}  # not the hospital's nor the pension's items
    cookie = next(c for c in await context.cookies() if c["name"] == "onecard_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/reporting/console"
    for chart in CHARTS:  # ECharts drew each chart as SVG with shapes in it
        await page.wait_for_selector(f"#{chart} svg path", state="attached", timeout=10_000)
    assert await page.locator("#chart-depth svg path").count() > 3
    await screenshot(page, "console")
    async with page.expect_download() as waiting:
        await page.click("#download-xlsx")
    download = await waiting.value
    assert download.suggested_filename == f"onecard-progress-{YEAR}.xlsx"
    saved = (await download.path()).read_bytes()
    sheet = openpyxl.load_workbook(io.BytesIO(saved)).worksheets[0]
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == [LIBRARY]
    await context.close()


async def test_wrong_or_revoked_credential_is_refused(console: Console, browser: Any) -> None:
    running, base = console
    # Without script (the tables carry every figure), which also spares loading the charts.
    page = await browser.new_page(viewport=DESKTOP, java_script_enabled=False)
    await sign_in(page, base, "not-a-token")
    assert await page.locator("#signin-error").count() == 1
    assert await page.locator("#items").count() == 0
    client_id, token = await client_token(running, department="测试卫生健康委")
    await sign_in(page, base, token)
    assert await page.locator("#items").count() == 1
    deleted = await running.client.delete(f"/catalog/v1/clients/{client_id}", headers=running.admin)
    assert deleted.status_code == 204

    session = {"onecard_session": token}

    async def refused() -> bool:
        async with httpx.AsyncClient(base_url=base, cookies=session) as web:
            return (await web.get("/reporting/console/")).status_code == 401

    await eventually(refused, timeout=10, what="the revoked session refused")
    await page.reload()  # the session the browser holds is refused too
    assert await page.locator("#signin-error").count() == 1
    await sign_in(page, base, token)
    assert await page.locator("#signin-error").count() == 1
    await page.close()


async def console_items(
    base: str, token: str, path: str = "/reporting/console/", signed_in: int = 303
) -> httpx.Response:
    """What `path` answers after signing in with `token` (answered `signed_in`)."""
    async with httpx.AsyncClient(base_url=base) as web:
        signed = await web.post("/reporting/console/session", data={"token": token})
        assert signed.status_code == signed_in, signed.text
        return await web.get(path, params={"year": YEAR})


async def test_console_scope_is_the_apis(console: Console) -> None:
    """For each credential, the console's items and report are the API's for the same token."""
    running, base = console
    for scope in ({"department": "测试人社局"}, {"department": "测试卫生健康委", "jurisdiction": "500106"}):
        _, token = await client_token(running, **scope)
        bearer = {"Authorization": f"Bearer {token}"}
        api = await running.client.get("/reporting/v1/progress", params={"year": YEAR}, headers=bearer)
        expected = {r["item_id"] for r in api.json()["rows"]}
        assert expected and expected <= {HOSPITAL, PENSION}
        page = await console_items(base, token)
        shown = {i for i in (HOSPITAL, PENSION, LIBRARY) if f'data-item="{i}"' in page.text}
        assert shown == expected, scope
        report = await console_items(base, token, "/reporting/console/progress.xlsx")
        api_xlsx = await running.client.get(
            "/reporting/v1/progress", params={"year": YEAR, "format": "xlsx"}, headers=bearer
        )
        rows = [openpyxl.load_workbook(io.BytesIO(r.content)).worksheets[0] for r in (report, api_xlsx)]
        assert [list(s.values) for s in rows[:1]] == [list(s.values) for s in rows[1:]]
    # a credential that reads no reports gets the sign-in page, not figures
    venue = await running.client.post(
        "/catalog/v1/clients", json={"role": "venue", "name": "v", "venues": ["VA1"]}, headers=running.admin
    )
    refused = await console_items(base, venue.json()["token"], signed_in=401)
    assert 'id="token"' in refused.text and 'id="items"' not in refused.text


async def test_liangping_attachment2(console: Console) -> None:
    running, base = console
    _, token = await client_token(running, department="区人力社保局")
    page = await console_items(base, token)
    assert 'id="download-attachment2"' in page.text
    form = await console_items(base, token, "/reporting/console/attachment2.xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(form.content)).worksheets[0]
    cells = [row for row in sheet.iter_rows(values_only=True)]
    assert cells[0][0] == "区人力社保局社会保障卡“一卡通”应用落实情况"
    assert cells[4][:6] == ("业务领域", "序号", "应用项目", "业务场景说明", "功能分类", "应用落实情况")
    assert cells[5][5:7] == ("实体卡", "电子卡")
    assert cells[6][1:3] == ("1", "就业登记")

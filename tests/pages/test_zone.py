"""The public service zone in a real Chromium (embedded default): search the catalogue and open an
item, its venues and their card forms; no script needed; no personal data; screenshots."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import DESKTOP, PHONE, screenshot
from tests.support.people import card
from tests.support.platform import RunningPlatform, fresh_embedded_settings, start_platform, stop_platform
from tests.support.serving import served_on_port

LIBRARY = "500000:30"  # the municipal library item of the official catalogue
HOLDER = card(7, name="李小龙")
Zone = tuple[RunningPlatform, str]  # the platform and its base URL


@pytest.fixture(scope="module")
async def zone(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Zone]:
    """One embedded platform for the module, with a venue of the library item and a card used
    there, served over HTTP."""
    settings = await fresh_embedded_settings(Path(tmp_path_factory.mktemp("zone")) / "data")
    running, dispatcher = await start_platform(settings)
    api, admin = running.client, running.admin
    venue = {"venue_id": "V-ZONE-1", "name": "重庆图书馆", "jurisdiction": "500000", "item_id": LIBRARY}
    assert (await api.post("/catalog/v1/venues", json=venue, headers=admin)).status_code == 201
    terminal = {"terminal_id": "T-ZONE-1", "card_forms": ["physical", "electronic"]}
    response = await api.post("/catalog/v1/venues/V-ZONE-1/terminals", json=terminal, headers=admin)
    assert response.status_code == 201
    assert (await api.post("/identity/v1/cards", json=HOLDER, headers=admin)).status_code == 201
    use = {"venue_id": "V-ZONE-1", "terminal_id": "T-ZONE-1", "method": "physical", "card": HOLDER}
    assert (await api.post("/identity/v1/verifications", json=use, headers=admin)).status_code == 200
    async with served_on_port(dispatcher) as port:
        yield running, f"http://127.0.0.1:{port}"
    await stop_platform(running)


async def test_search_and_open_an_item_without_script(zone: Zone, browser: Any) -> None:
    _, base = zone
    context = await browser.new_context(viewport=DESKTOP, java_script_enabled=False, locale="zh-CN")
    page = await context.new_page()
    await page.goto(f"{base}/")  # the embedded default's / leads to the zone
    assert page.url == f"{base}/catalog/zone/"
    assert await page.get_attribute("html", "lang") == "zh-CN"
    everything = await page.inner_text("#count")
    await page.fill("#q", "图书馆")
    await page.select_option("#category", "identity")
    await page.click("button[type=submit]")
    assert "q=" in page.url and "category=identity" in page.url
    assert await page.inner_text("#count") != everything
    names = await page.locator("ol.items h3").all_inner_texts()
    assert "图书馆入馆、借阅" in names and "医保" not in "".join(names), names  # name or description
    await page.click(f"a[href^='items/{LIBRARY.replace(':', '%3A')}']")
    assert await page.inner_text("h1") == "图书馆入馆、借阅"
    facts = await page.inner_text("dl.facts")
    assert "市文化旅游委" in facts and "身份识别" in facts
    venues = await page.inner_text("table:last-of-type")
    assert "重庆图书馆" in venues and "实体卡" in venues and "电子卡" in venues
    await context.close()


async def test_filters_by_card_form_and_date(zone: Zone, browser: Any) -> None:
    _, base = zone
    page = await browser.new_page(viewport=DESKTOP)
    await page.goto(f"{base}/catalog/zone/?card_form=electronic&jurisdiction=500155&date=2021-07-20")
    assert "500155" in page.url
    first = page.locator("ol.items li").first
    assert "电子卡" in await first.inner_text()
    await page.goto(f"{base}/catalog/zone/?date=2000-01-01")
    assert (await page.inner_text("#count")).startswith("共 0 项")  # no catalogue in force yet
    await page.close()


async def test_no_personal_data_or_figures(zone: Zone) -> None:
    running, _ = zone
    pages = ["/catalog/zone/", "/catalog/zone/?q=图书馆", f"/catalog/zone/items/{LIBRARY}"]
    for path in pages:
        response = await running.client.get(path)
        assert response.status_code == 200
        html = response.text
        assert len(response.content) < 100_000  # a page under 100 KB
        for secret in (HOLDER["card_no"], HOLDER["ssn"], HOLDER["name"], "T-ZONE-1", "holder_ref"):
            assert secret not in html, (path, secret)
        assert "<script" not in html  # usable without script: the zone ships none
    openapi = (await running.client.get("/catalog/openapi.json")).text
    assert "/catalog/zone" not in openapi


async def test_screenshots(zone: Zone, browser: Any) -> None:
    _, base = zone
    for name, viewport in (("zone-desktop", DESKTOP), ("zone-phone", PHONE)):
        page = await browser.new_page(viewport=viewport, locale="zh-CN")
        await page.goto(f"{base}/catalog/zone/?q=图书馆")
        assert (await screenshot(page, name)).stat().st_size > 10_000
        if name == "zone-phone":  # mobile-first: nothing wider than the phone
            width = await page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"]
        await page.close()


async def test_a_published_item_is_listed_at_once(zone: Zone) -> None:
    """The zone shares the API's cache of item lists, which a change clears."""
    running, _ = zone
    assert "共 0 项" in (await running.client.get("/catalog/zone/?q=新开通事项")).text
    new = {
        "jurisdiction": "500106",
        "seq": 999,
        "kind": "service",
        "name": "新开通事项",
        "department": "区测试局",
        "categories": ["identity"],
        "card_forms": ["physical"],
    }
    response = await running.client.post("/catalog/v1/items", json=new, headers=running.admin)
    assert response.status_code == 201, response.text
    assert "共 1 项" in (await running.client.get("/catalog/zone/?q=新开通事项")).text

"""Background workers under the supervisor: a failing worker is restarted with backoff, its health
scrapes as metrics, and a worker that keeps failing turns /readyz to 503 naming it."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import httpx
from onecard.composition import PrefixDispatcher, build_services
from onecard_service.platform import Platform

from tests.support.platform import embedded_settings
from tests.support.waiting import eventually


async def test_failing_workers_are_restarted_and_a_stuck_one_is_not_ready(tmp_path: Path) -> None:
    platform = Platform(replace(embedded_settings(tmp_path / "data"), worker_stuck_seconds=1.0))
    [catalog] = build_services(platform, ["catalog"])
    runs = {"flaky": 0, "broken": 0}

    async def flaky(stop: asyncio.Event) -> None:
        runs["flaky"] += 1
        if runs["flaky"] <= 2:
            raise ConnectionError("broker went away")
        catalog.supervisor.watch("flaky").progressed()
        await stop.wait()

    async def broken(_stop: asyncio.Event) -> None:
        runs["broken"] += 1
        raise RuntimeError("poisoned for good")

    catalog.add_worker("flaky", flaky)
    catalog.add_worker("broken", broken)
    await catalog.start(migrate=True)
    transport = httpx.ASGITransport(app=PrefixDispatcher([catalog], migrate=False))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://onecard.test") as client:

            async def restarted_and_stuck() -> bool:
                return runs["flaky"] == 3 and runs["broken"] >= 3 and catalog.supervisor.stuck() == ["broken"]

            await eventually(restarted_and_stuck, timeout=20, what="restarts and a stuck worker")
            ready = await client.get("/catalog/readyz")
            assert ready.status_code == 503
            assert ready.json() == {"status": "workers stuck", "workers": ["broken"]}
            scraped = await client.get("/catalog/metrics")
            assert scraped.status_code == 200
            text = scraped.text
            assert 'onecard_worker_restarts{service="catalog",worker="flaky"} 2.0' in text
            assert 'onecard_worker_consecutive_failures{service="catalog",worker="flaky"} 0.0' in text
            assert 'onecard_worker_stuck{service="catalog",worker="broken"} 1.0' in text
            assert 'onecard_worker_stuck{service="catalog",worker="flaky"} 0.0' in text
            # Restarted again and again, it registered its metrics once: the scrape still works.
            assert (await client.get("/catalog/metrics")).status_code == 200
    finally:
        await catalog.stop()
        await platform.close()

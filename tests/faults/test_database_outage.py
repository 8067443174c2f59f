"""A database outage answers 503 problem+json with Retry-After on every route, never 500, and
the service answers normally again once the database is back, with nothing restarted."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.support.faults import LinkCut
from tests.support.platform import fresh_distributed_settings, start_platform, stop_platform

pytestmark = [pytest.mark.postgres, pytest.mark.kafka]


async def test_database_outage_is_a_retryable_503(pg_url: str, kafka_bootstrap: str) -> None:
    settings = await fresh_distributed_settings(pg_url, kafka_bootstrap)
    url = make_url(settings.database_url or "")
    link = LinkCut(url.host or "127.0.0.1", url.port or 5432)
    await link.restore()
    settings = replace(
        settings, database_url=url.set(host="127.0.0.1", port=link.port).render_as_string(False)
    )
    running, _ = await start_platform(settings, ("catalog",))
    try:
        client, admin = running.client, running.admin
        assert (await client.get("/catalog/v1/items", headers=admin)).status_code == 200
        await link.cut()
        # Routes that read or write the database (the item list is served from memory).
        for method, path in (
            ("GET", "/catalog/v1/venues"),
            ("GET", "/catalog/v1/merchants"),
            ("POST", "/catalog/v1/jurisdictions"),
        ):
            body = {"code": "500999", "name": "测试区", "kind": "district"} if method == "POST" else None
            answer = await client.request(method, path, headers=admin, json=body)
            assert answer.status_code == 503, (method, path, answer.text)
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert int(answer.headers["retry-after"]) > 0
            assert answer.json()["status"] == 503
        await link.restore()
        answer: httpx.Response | None = None
        for _ in range(3):  # the pool drops the connections the cut broke, then reconnects
            answer = await client.get("/catalog/v1/venues", headers=admin)
            if answer.status_code == 200:
                break
        assert answer is not None and answer.status_code == 200
    finally:
        await link.restore()
        await stop_platform(running)
        await link.cut()

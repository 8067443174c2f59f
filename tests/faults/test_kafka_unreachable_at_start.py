"""A service started while Kafka cannot be reached keeps answering, and its relay backlog gauge
says what waits for Kafka (the catalogue it seeded), so OnecardRelayStalled can fire (issue 12)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from tests.support.faults import LinkCut
from tests.support.platform import fresh_distributed_settings, start_platform, stop_platform
from tests.support.waiting import eventually

pytestmark = [pytest.mark.postgres, pytest.mark.kafka]

BACKLOG = re.compile(r'^onecard_relay_backlog_events\{service="catalog"\} (\S+)$', re.MULTILINE)


async def test_relay_backlog_is_reported_when_kafka_is_unreachable_from_the_start(
    pg_url: str, kafka_bootstrap: str
) -> None:
    settings = await fresh_distributed_settings(pg_url, kafka_bootstrap)  # topics exist
    host, _, port = kafka_bootstrap.rpartition(":")
    link = LinkCut(host, int(port))  # never restored: nothing listens on its port
    running, _ = await start_platform(replace(settings, kafka_bootstrap=link.address), ("catalog",))
    try:
        answer = await running.client.get("/catalog/v1/items", headers=running.admin)
        assert answer.status_code == 200, "the API works without Kafka"

        async def backlog() -> float | None:
            scraped = (await running.client.get("/catalog/metrics")).text
            found = BACKLOG.search(scraped)
            return float(found.group(1)) if found and float(found.group(1)) > 0 else None

        waiting = await eventually(backlog, timeout=30, what="a relay backlog above 0")
        assert waiting >= 200, "the seeded catalogue waits for Kafka"  # 297 events, one batch
    finally:
        await stop_platform(running)

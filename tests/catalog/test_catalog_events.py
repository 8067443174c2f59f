"""The catalogue as events: on the Kafka topic (distributed) and in the store's log (embedded);
seeding once across restarts; revocation reaching another replica within 5 seconds."""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from onecard_events.kafka import create_topics, platform_topics
from onecard_events.model import START
from onecard_service.settings import Settings

from tests.catalog.test_catalog_api import COUNTS, new_item, start_services, stop_services
from tests.support.databases import create_database
from tests.support.platform import RunningPlatform, distributed_settings, embedded_settings
from tests.support.waiting import eventually

V1 = "/catalog/v1"
OFFICIAL_ITEMS = sum(COUNTS.values())
OFFICIAL_JURISDICTIONS = 6


async def log_counts(running: RunningPlatform) -> Counter[str]:
    records = await running.runtime("catalog").store.read_all(START, 100_000)
    return Counter(r.event_type for r in records)


async def make_places(running: RunningPlatform) -> None:
    admin = running.admin
    venue = {"venue_id": "dz-stone", "name": "大足石刻景区", "jurisdiction": "500111", "item_id": "500000:30"}
    assert (await running.client.post(f"{V1}/venues", json=venue, headers=admin)).status_code == 201
    terminal = {"terminal_id": "t1", "card_forms": ["physical", "electronic"]}
    assert (
        await running.client.post(f"{V1}/venues/dz-stone/terminals", json=terminal, headers=admin)
    ).status_code == 201
    assert (
        await running.client.post(f"{V1}/items", json=new_item("500111:90"), headers=admin)
    ).status_code == 201
    merchant = {
        "merchant_id": "dz-shop",
        "name": "景区商店",
        "jurisdiction": "500111",
        "item_id": "500111:90",
    }
    assert (await running.client.post(f"{V1}/merchants", json=merchant, headers=admin)).status_code == 201


@pytest.fixture
async def distributed_catalog(
    pg_url: str, kafka_bootstrap: str
) -> AsyncIterator[tuple[RunningPlatform, Settings]]:
    settings = distributed_settings(kafka_bootstrap, await create_database(pg_url))
    await create_topics(kafka_bootstrap, platform_topics(settings.partners, 2, settings.topic_prefix))
    running = await start_services(settings)
    yield running, settings
    await stop_services(running)


async def test_embedded_log_holds_the_catalogue(tmp_path: Path) -> None:
    running = await start_services(embedded_settings(tmp_path / "data"))
    try:
        await make_places(running)
        counts = await log_counts(running)
        assert counts["onecard.catalog.item_published"] == OFFICIAL_ITEMS + 1
        assert counts["onecard.catalog.jurisdiction_added"] == OFFICIAL_JURISDICTIONS
        for kind in ("venue_registered", "terminal_deployed", "merchant_registered"):
            assert counts[f"onecard.catalog.{kind}"] == 1
        records = await running.runtime("catalog").store.read_all(START, 100_000)
        library = next(r for r in records if r.stream_id == "item-500000:30")
        assert (library.data["version"], library.data["item"]["name"]) == (1, "图书馆入馆、借阅")
    finally:
        await stop_services(running)


async def test_restart_does_not_republish(tmp_path: Path) -> None:
    settings = embedded_settings(tmp_path / "data")
    running = await start_services(settings)
    await make_places(running)
    await running.client.put(
        f"{V1}/items/500000:30", json={**new_item("500000:30"), "name": "图书馆"}, headers=running.admin
    )
    before = await log_counts(running)
    await stop_services(running)
    running = await start_services(settings)
    try:
        assert await log_counts(running) == before
        library = await running.client.get(f"{V1}/items/500000:30", headers=running.admin)
        assert (library.json()["version"], library.json()["name"]) == (2, "图书馆"), (
            "a revision survives a restart"
        )
        counted = await running.client.get(
            f"{V1}/items", params={"jurisdiction": "500155"}, headers=running.admin
        )
        assert len(counted.json()) == COUNTS["500155"]
    finally:
        await stop_services(running)


async def _consume(bootstrap: str, topic: str, wanted: int) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    messages: list[Any] = []
    try:
        deadline = time.monotonic() + 60
        while len(messages) < wanted and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=1000)
            messages += [m for part in batch.values() for m in part]
    finally:
        await consumer.stop()
    return messages


async def test_distributed_topic_carries_cloudevents(
    distributed_catalog: tuple[RunningPlatform, Settings],
) -> None:
    running, settings = distributed_catalog
    counted = await running.client.get(
        f"{V1}/items", params={"jurisdiction": "500000"}, headers=running.admin
    )
    assert len(counted.json()) == COUNTS["500000"]
    await make_places(running)
    topic = running.platform.settings.topic_prefix + "onecard.catalog.v1"
    assert settings.kafka_bootstrap is not None
    expected = OFFICIAL_ITEMS + OFFICIAL_JURISDICTIONS + 4  # venue, terminal, item, merchant
    messages = await _consume(settings.kafka_bootstrap, topic, expected)
    types = Counter(dict(m.headers)["ce_type"].decode() for m in messages)
    assert len(messages) == expected
    assert types["onecard.catalog.item_published"] == OFFICIAL_ITEMS + 1
    assert (
        types["onecard.catalog.venue_registered"] == 1 and types["onecard.catalog.merchant_registered"] == 1
    )
    venue = next(m for m in messages if dict(m.headers)["ce_type"] == b"onecard.catalog.venue_registered")
    headers = dict(venue.headers)
    for name in ("ce_id", "ce_source", "ce_time", "ce_specversion"):
        assert headers[name], name
    assert headers["ce_specversion"] == b"1.0" and headers["ce_source"] == b"catalog"
    assert venue.key == b"venue-dz-stone"
    assert orjson.loads(venue.value)["item_id"] == "500000:30"


async def test_revocation_reaches_another_replica(
    distributed_catalog: tuple[RunningPlatform, Settings],
) -> None:
    running, settings = distributed_catalog
    # A second catalog replica, as another process would be: its own platform, revocation list and cache.
    replica = await start_services(settings)
    try:
        created = await running.client.post(
            f"{V1}/clients", json={"role": "operator", "name": "值班"}, headers=running.admin
        )
        header = {"Authorization": f"Bearer {created.json()['token']}"}
        assert (await replica.client.get(f"{V1}/jurisdictions", headers=header)).status_code == 200
        revoked = await running.client.delete(
            f"{V1}/clients/{created.json()['client_id']}", headers=running.admin
        )
        assert revoked.status_code == 204
        started = time.monotonic()

        async def refused() -> bool:
            return (await replica.client.get(f"{V1}/jurisdictions", headers=header)).status_code == 401

        async def refused_by_both() -> bool:
            # Each replica follows the revocation on its own feed: both within the contract's 5 s.
            first = (await running.client.get(f"{V1}/jurisdictions", headers=header)).status_code
            return first == 401 and await refused()

        await eventually(refused_by_both, timeout=5.0)
        assert time.monotonic() - started < 5.0
        # The replica's item lists follow the other replica's change within its cache TTL.
        await replica.client.get(f"{V1}/items", params={"jurisdiction": "500106"}, headers=replica.admin)
        await running.client.post(f"{V1}/items", json=new_item(), headers=running.admin)

        async def seen() -> bool:
            listed = await replica.client.get(
                f"{V1}/items", params={"jurisdiction": "500106"}, headers=replica.admin
            )
            return len(listed.json()) == COUNTS["500106"] + 1

        await eventually(seen, timeout=5.0)
    finally:
        with contextlib.suppress(Exception):
            await stop_services(replica)

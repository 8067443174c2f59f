"""Payments tests run the catalog and payments services only.

Same settings and helpers as tests/conftest.py, but the platform is built from the two services
these tests need, so they do not depend on the state of the other services' code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from onecard.composition import PrefixDispatcher, build_services
from onecard_events.kafka import create_topics, platform_topics
from onecard_service.platform import Platform
from onecard_service.settings import Settings

from tests.conftest import (
    RunningPlatform,
    create_database,
    distributed_settings,
    embedded_settings,
    stop_platform,
)

SERVICES_UNDER_TEST = ("catalog", "payments")


async def start_subset(settings: Settings) -> RunningPlatform:
    platform = Platform(settings)
    runtimes = build_services(platform, SERVICES_UNDER_TEST)
    dispatcher = PrefixDispatcher(runtimes, migrate=True)
    for runtime in runtimes:
        await runtime.start(migrate=True)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=dispatcher), base_url="http://onecard.test")
    return RunningPlatform(platform, client, dispatcher)


async def _distributed_settings(pg: str, kafka: str) -> Settings:
    settings = distributed_settings(kafka, await create_database(pg))
    await create_topics(kafka, platform_topics(settings.partners, 2, settings.topic_prefix))
    return settings


@pytest.fixture
async def embedded(tmp_path: Path) -> AsyncIterator[RunningPlatform]:
    running = await start_subset(embedded_settings(tmp_path / "data"))
    yield running
    await stop_platform(running)


@pytest.fixture
async def distributed(pg_url: str, kafka_bootstrap: str) -> AsyncIterator[RunningPlatform]:
    running = await start_subset(await _distributed_settings(pg_url, kafka_bootstrap))
    yield running
    await stop_platform(running)


@pytest.fixture(params=["embedded", "distributed"])
async def any_mode(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RunningPlatform]:
    if request.param == "embedded":
        settings = embedded_settings(tmp_path / "data")
    else:
        settings = await _distributed_settings(
            request.getfixturevalue("pg_url"), request.getfixturevalue("kafka_bootstrap")
        )
    running = await start_subset(settings)
    yield running
    await stop_platform(running)

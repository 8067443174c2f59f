"""Single use of e-card codes: under concurrent attempts and across a restart."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from onecard_events.kafka import create_topics, platform_topics

from tests.support.databases import create_database
from tests.support.platform import (
    RunningPlatform,
    distributed_settings,
    embedded_settings,
    start_platform,
    stop_platform,
)
from tests.support.servers import server_fixture

from .helpers import ecard_and_code, make_ssn, outcome, register, seed_venue, verify_code


async def test_concurrent_replay_verifies_once(any_mode: RunningPlatform) -> None:
    await seed_venue(any_mode)
    await register(any_mode, "P12345678", make_ssn(30))
    qr = await ecard_and_code(any_mode, "P12345678")
    results = await asyncio.gather(*(verify_code(any_mode, qr) for _ in range(40)))
    outcomes = [await outcome(r) for r in results]
    assert outcomes.count((True, None)) == 1
    assert outcomes.count((False, "qr_reused")) == 39


@pytest.mark.parametrize("mode", ["embedded", "distributed"])
async def test_replay_after_restart(mode: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    if mode == "embedded":
        settings = embedded_settings(tmp_path / "data")
    else:
        kafka = server_fixture(request, "kafka_bootstrap")
        settings = distributed_settings(kafka, await create_database(server_fixture(request, "pg_url")))
        await create_topics(kafka, platform_topics(settings.partners, 2, settings.topic_prefix))
    first, _ = await start_platform(settings)
    try:
        await seed_venue(first)
        await register(first, "W12345678", make_ssn(31))
        qr = await ecard_and_code(first, "W12345678")
        assert await outcome(await verify_code(first, qr)) == (True, None)
    finally:
        await stop_platform(first)
    second, _ = await start_platform(settings)
    try:
        assert await outcome(await verify_code(second, qr)) == (False, "qr_reused")
    finally:
        await stop_platform(second)

"""Background workers under the supervisor: a failing worker is restarted with backoff, its health
scrapes as metrics, and a worker that keeps failing turns /readyz to 503 naming it; one that failed
through an outage and runs again is not stuck; a relay that cannot reach Kafka is an alert, not
unreadiness (ADR 0011)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import httpx
import onecard_service.platform
import pytest
from aiokafka.errors import KafkaConnectionError
from onecard.composition import PrefixDispatcher, build_services
from onecard_events.cloudevents import Headers
from onecard_events.kafka import KafkaPublisher
from onecard_events.supervision import Backoff, Supervisor
from onecard_service.platform import Platform

from tests.support.platform import (
    embedded_settings,
    fresh_distributed_settings,
    start_platform,
    stop_platform,
)
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


async def test_a_worker_failing_for_a_moment_is_not_stuck_until_it_has_failed_for_stuck_after() -> None:
    # A worker without a progress probe (identity's nonce-purge, disbursement's dispatcher...) in a
    # process older than stuck_after: its first failure alone does not make it stuck.
    supervisor = Supervisor("test", stuck_after=60.0, backoff=Backoff(initial=30.0, cap=30.0))
    health = supervisor.watch("purge")
    health.started_at -= 600

    async def broken(_stop: asyncio.Event) -> None:
        raise ConnectionError("database restarting")

    supervisor.start("purge", broken)
    try:

        async def failed() -> bool:
            return health.consecutive_failures == 1

        await eventually(failed, timeout=10, what="the first failure")
        assert supervisor.stuck() == []
        assert health.stuck(supervisor.stuck_after, now=time.time() + 61)  # failing for longer: stuck
    finally:
        await supervisor.stop()


async def test_a_worker_that_runs_again_after_failing_is_not_stuck_for_ever() -> None:
    supervisor = Supervisor("test", stuck_after=60.0, backoff=Backoff(initial=0.05, cap=0.1))
    assert supervisor.calm_after == 0.2  # twice the backoff's cap, below half of stuck_after
    health = supervisor.watch("purge")
    health.started_at -= 600
    runs = 0

    async def broken_once(stop: asyncio.Event) -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            raise ConnectionError("database restarting")
        await stop.wait()  # works again, and never reports progress

    supervisor.start("purge", broken_once)
    try:

        async def calm_again() -> bool:
            return runs == 2 and health.consecutive_failures == 0

        await eventually(calm_again, timeout=10, what="the failure streak ends")
        assert health.restarts == 1
        assert not health.stuck(supervisor.stuck_after, now=time.time() + 3600)
        assert supervisor.stuck() == []
    finally:
        await supervisor.stop()


class _UnreachableBroker(KafkaPublisher):
    """A producer whose broker does not answer: every publish fails as aiokafka's does."""

    async def publish(self, messages: Sequence[tuple[str, bytes, bytes, Headers]]) -> None:
        raise KafkaConnectionError("broker unreachable")


@pytest.mark.postgres
@pytest.mark.kafka
async def test_a_relay_that_cannot_reach_kafka_is_an_alert_not_unreadiness(
    pg_url: str, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(onecard_service.platform, "KafkaPublisher", _UnreachableBroker)
    settings = replace(await fresh_distributed_settings(pg_url, kafka_bootstrap), worker_stuck_seconds=1.0)
    running, _ = await start_platform(settings, ("catalog",))  # it publishes the catalogues at start
    try:
        catalog = running.runtime("catalog")

        async def relay_stuck() -> bool:
            return catalog.supervisor.stuck() == ["relay"]

        await eventually(relay_stuck, timeout=20, what="the relay has work and makes no progress")
        ready = await running.client.get("/catalog/readyz")
        assert ready.status_code == 200, ready.text
        scraped = (await running.client.get("/catalog/metrics")).text
        assert 'onecard_worker_stuck{service="catalog",worker="relay"} 1.0' in scraped
        assert (await running.client.get("/catalog/v1/items", headers=running.admin)).status_code == 200
    finally:
        await stop_platform(running)

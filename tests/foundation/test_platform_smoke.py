"""Every service answers its probes and metrics in both modes."""

from __future__ import annotations

import pytest

from tests.support.platform import RunningPlatform
from tests.support.waiting import eventually

SERVICES = ("catalog", "identity", "payments", "disbursement", "reporting")


async def ready(running: RunningPlatform, service: str) -> None:
    """Polled as an orchestrator does: 503 "catching up" until the views have applied what their
    sources held at start, then 200."""

    async def answer() -> bool:
        response = await running.client.get(f"/{service}/readyz")
        if response.status_code == 503:
            assert response.json()["status"] in ("starting", "catching up"), response.text
        return response.status_code == 200

    await eventually(answer, timeout=30)


@pytest.mark.parametrize("service", SERVICES)
async def test_probes_and_metrics(embedded: RunningPlatform, service: str) -> None:
    assert (await embedded.client.get(f"/{service}/healthz")).status_code == 200
    await ready(embedded, service)
    metrics = await embedded.client.get(f"/{service}/metrics")
    assert "onecard_http_requests_total" in metrics.text
    spec = await embedded.client.get(f"/{service}/openapi.json")
    assert spec.json()["info"]["title"] == f"onecard {service}"


async def test_unknown_prefix_is_a_problem(embedded: RunningPlatform) -> None:
    response = await embedded.client.get("/nowhere/v1/x")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


async def test_distributed_mode_serves_every_prefix(distributed: RunningPlatform) -> None:
    for service in SERVICES:
        await ready(distributed, service)

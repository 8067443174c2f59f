"""Every service answers its probes and metrics in both modes."""

from __future__ import annotations

import pytest

from tests.support.platform import RunningPlatform

SERVICES = ("catalog", "identity", "payments", "disbursement", "reporting")


@pytest.mark.parametrize("service", SERVICES)
async def test_probes_and_metrics(embedded: RunningPlatform, service: str) -> None:
    for path in ("healthz", "readyz"):
        response = await embedded.client.get(f"/{service}/{path}")
        assert response.status_code == 200, response.text
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
        response = await distributed.client.get(f"/{service}/readyz")
        assert response.status_code == 200, (service, response.text)

"""Issue 15, Done when 2: a 50,000-payee upload (the allowed maximum in one call) does not block
the event loop of `onecard serve disbursement`: while it runs, other requests to the same process
(its health check, and the batch's own figures read from PostgreSQL) are answered in < 100 ms."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import httpx
import pytest
from onecard_disbursement.entrypoints.api import MAX_PAYEES_PER_CALL

from tests.support.catalogue import publish_catalog
from tests.support.people import person
from tests.support.processes import distributed_env, serve

from .support import batch_body, create_program, item

WORST_MS = 100  # the bound; a blocked loop shows as seconds, not as tens of milliseconds
PROBE_EVERY_S = 0.01


async def _probe(
    client: httpx.AsyncClient, paths: list[str], upload: asyncio.Task[httpx.Response]
) -> list[tuple[float, str, int]]:
    """Light requests, one every ~10 ms in turn over `paths`, until the upload is answered:
    each one's latency (ms), path and status."""
    seen: list[tuple[float, str, int]] = []
    while not upload.done():
        path = paths[len(seen) % len(paths)]
        started = time.perf_counter()
        response = await client.get(path)
        seen.append(((time.perf_counter() - started) * 1000, path, response.status_code))
        await asyncio.sleep(PROBE_EVERY_S)
    return seen


# Latency against a bound: under another xdist worker's load on 2 cores the probes measure that
# load (185 ms seen); alone they stay at 50-85 ms.
@pytest.mark.alone
async def test_upload_of_50000_payees_leaves_other_requests_fast(
    pg_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = await distributed_env(pg_url, kafka_bootstrap)
    served = serve("disbursement", env, log=tmp_path / "serve.log")
    await served.start()
    try:
        async with (
            httpx.AsyncClient(base_url=served.url, timeout=120, headers=served.admin) as uploader,
            httpx.AsyncClient(base_url=served.url, timeout=30, headers=served.admin) as prober,
        ):
            item_id = f"500155:L{uuid.uuid4().hex[:6]}"
            await publish_catalog(kafka_bootstrap, env["ONECARD_TOPIC_PREFIX"], item(item_id))
            program_id = await create_program(uploader, served.admin, item_id)
            rows = [
                person(i, ref=f"L{i:05d}-{program_id}", amount=1000 + i % 5000)
                for i in range(MAX_PAYEES_PER_CALL)
            ]
            batch_id = f"B-{uuid.uuid4().hex[:8]}"
            declared = await uploader.post(
                "/disbursement/v1/batches", json=batch_body(batch_id, program_id, rows)
            )
            assert declared.status_code == 201, declared.text
            # Encoded before the clock starts, so the test's own loop is free while it probes.
            body = json.dumps({"payees": rows}).encode()
            paths = ["/disbursement/healthz", f"/disbursement/v1/batches/{batch_id}"]
            for path in paths:  # connections open and warm before the upload starts
                assert (await prober.get(path)).status_code == 200
            upload = asyncio.create_task(
                uploader.post(
                    f"/disbursement/v1/batches/{batch_id}/payees",
                    content=body,
                    headers={"content-type": "application/json", "idempotency-key": uuid.uuid4().hex},
                )
            )
            seen = await _probe(prober, paths, upload)
            added = upload.result()
            assert added.status_code == 200, added.text[:500]
            assert added.json() == {"accepted": MAX_PAYEES_PER_CALL, "rejected": []}
            final = (await prober.get(f"/disbursement/v1/batches/{batch_id}")).json()
            assert final["accepted"] == MAX_PAYEES_PER_CALL
    finally:
        served.stop()
    assert all(status == 200 for _, _, status in seen), seen
    assert len(seen) >= 20, f"the upload ended after {len(seen)} probes: too quick to judge"
    worst = max(seen)
    print(f"{len(seen)} probes, slowest: {sorted(seen, reverse=True)[:5]}")
    assert worst[0] < WORST_MS, f"worst {worst[0]:.0f} ms ({worst[1]}) over {len(seen)} probes"

"""`onecard serve identity --workers 2` on PostgreSQL and Kafka: two worker processes answer on one
port, each with its own group commit, and nothing is lost or used twice between them
(docs/adr/0015-workers.md). Which worker answered is in the `Onecard-Worker` header (its pid)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from onecard.workers import WORKER_HEADER
from sqlalchemy import text

from tests.support import people
from tests.support.names import unique
from tests.support.platform import ADMIN_TOKEN
from tests.support.processes import ServiceGroup, distributed_env, run_onecard, serve
from tests.support.public_api import ok

VENUE, TERMINAL = "v-workers", "t-workers"
CARDS = 20
VERIFICATIONS = 300


@pytest.fixture
async def services(pg_url: str, kafka_bootstrap: str, tmp_path: Path) -> AsyncIterator[ServiceGroup]:
    env = await distributed_env(
        pg_url, kafka_bootstrap, topic_prefix=unique("workers") + ".", admin_token=ADMIN_TOKEN,
        private_key=True,
    )  # fmt: skip
    await run_onecard("migrate", "catalog", "identity", env=env)
    group = ServiceGroup(
        {
            "catalog": serve("catalog", env, migrate=False, log=tmp_path / "catalog.log"),
            "identity": serve("identity", env, migrate=False, log=tmp_path / "identity.log", workers=2),
        },
        env,
    )
    try:
        await group.start(timeout=90)
        yield group
    finally:
        group.stop()


async def _venue_client(c: httpx.AsyncClient, catalog: str) -> dict[str, str]:
    venue = {"venue_id": VENUE, "name": "双进程图书馆", "jurisdiction": "500106", "item_id": "500000:30"}
    ok(await c.post(f"{catalog}/catalog/v1/venues", json=venue), 201)
    terminal = {"terminal_id": TERMINAL, "card_forms": ["physical", "electronic"]}
    ok(await c.post(f"{catalog}/catalog/v1/venues/{VENUE}/terminals", json=terminal), 201)
    client = {"role": "venue", "name": "双进程闸机", "venues": [VENUE]}
    token = ok(await c.post(f"{catalog}/catalog/v1/clients", json=client), 201)["token"]
    return {"Authorization": f"Bearer {token}"}


async def _concurrently(
    url: str, headers: dict[str, str], bodies: list[dict[str, Any]]
) -> list[httpx.Response]:
    """Every body at once, each on a connection of its own (so the kernel spreads them)."""
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=0)
    async with httpx.AsyncClient(headers=headers, timeout=60, limits=limits) as c:
        return list(await asyncio.gather(*(c.post(url, json=b) for b in bodies)))


async def test_two_workers_share_one_port_and_one_correct_group_commit(services: ServiceGroup) -> None:
    catalog, identity = services.base("catalog"), services.base("identity")
    verifications = f"{identity}/identity/v1/verifications"
    async with httpx.AsyncClient(headers=services["catalog"].admin, timeout=30) as c:
        at_venue = await _venue_client(c, catalog)
        cards = [people.card(i, prefix="W") for i in range(CARDS)]
        for card in cards:
            ok(await c.post(f"{identity}/identity/v1/cards", json=card), 201)
        ok(await c.post(f"{identity}/identity/v1/cards/{cards[0]['card_no']}/ecard"))

        def physical(card: dict[str, str]) -> dict[str, Any]:
            return {"venue_id": VENUE, "terminal_id": TERMINAL, "method": "physical", "card": card}

        for _ in range(300):  # both workers' views learn the venue from the catalog's topic
            probes = await _concurrently(verifications, at_venue, [physical(cards[0])] * 8)
            if all(r.status_code == 200 for r in probes):
                break
            await asyncio.sleep(0.2)

        answers = await _concurrently(
            verifications, at_venue, [physical(cards[i % CARDS]) for i in range(VERIFICATIONS)]
        )
        assert [r.status_code for r in answers] == [200] * VERIFICATIONS
        assert all(r.json()["verified"] for r in answers)
        pids = Counter(r.headers[WORKER_HEADER] for r in answers)
        assert len(pids) == 2, f"answered by {dict(pids)}"
        assert str(services["identity"].process.pid) not in pids  # type: ignore[union-attr]

        # Every answered verification is in the store (committed before its answer).
        ids = [r.json()["verification_id"] for r in answers]
        db = services["identity"].database("identity")
        try:
            async with db.engine.connect() as conn:
                stored = (
                    await conn.execute(
                        text("SELECT count(DISTINCT stream_id) FROM events WHERE stream_id = ANY(:ids)"),
                        {"ids": [f"verification-{i}" for i in ids]},
                    )
                ).scalar()
            assert stored == VERIFICATIONS
        finally:
            await db.dispose()

        # One e-card code fired at both workers at once: accepted exactly once.
        for _ in range(5):
            qr = ok(await c.post(f"{identity}/identity/v1/cards/{cards[0]['card_no']}/qr"))["qr"]
            body = {"venue_id": VENUE, "terminal_id": TERMINAL, "method": "electronic", "qr": qr}
            uses = await _concurrently(verifications, at_venue, [body] * 40)
            assert [r.status_code for r in uses] == [200] * 40
            outcomes = Counter((r.json()["verified"], r.json()["reason"]) for r in uses)
            assert outcomes == {(True, None): 1, (False, "qr_reused"): 39}, outcomes
            if len({r.headers[WORKER_HEADER] for r in uses}) == 2:
                return
        pytest.fail("the uses of one code never reached both workers")

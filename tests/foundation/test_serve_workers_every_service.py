"""`onecard serve SERVICE --workers 2` for the services other than identity (which has its own test
in test_serve_workers.py): each answers on one port from two worker processes, and payments,
whose requests move money, stays correct across them: one bill paid from both workers at once is
settled once, and one Idempotency-Key sent to both is claimed once (docs/adr/0015-workers.md)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from onecard.workers import WORKER_HEADER

from tests.support import people
from tests.support.names import unique
from tests.support.platform import ADMIN_TOKEN
from tests.support.processes import ServiceGroup, distributed_env, run_onecard, serve
from tests.support.public_api import ok

SERVICES = ("catalog", "payments", "disbursement", "reporting")
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
RACERS = 24


@pytest.fixture
async def services(pg_url: str, kafka_bootstrap: str, tmp_path: Path) -> AsyncIterator[ServiceGroup]:
    env = await distributed_env(
        pg_url, kafka_bootstrap, topic_prefix=unique("workers-all") + ".", admin_token=ADMIN_TOKEN,
        private_key=True,
    )  # fmt: skip
    await run_onecard("migrate", *SERVICES, env=env)
    group = ServiceGroup(
        {name: serve(name, env, migrate=False, log=tmp_path / f"{name}.log", workers=2) for name in SERVICES},
        env,
    )
    try:
        await group.start(timeout=150)
        yield group
    finally:
        group.stop()


async def _at_once(
    method: str, url: str, requests: list[dict[str, Any]], headers: dict[str, str] = ADMIN
) -> list[httpx.Response]:
    """Every request at once, each on a connection of its own (so the kernel spreads them over
    the workers); `requests` are httpx keyword arguments."""
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=0)
    async with httpx.AsyncClient(headers=headers, timeout=60, limits=limits) as c:
        return list(await asyncio.gather(*(c.request(method, url, **r) for r in requests)))


def _workers(answers: list[httpx.Response]) -> set[str]:
    return {r.headers[WORKER_HEADER] for r in answers}


async def test_every_service_answers_from_two_workers_on_one_port(services: ServiceGroup) -> None:
    for name in SERVICES:
        base, pids = services.base(name), Counter[str]()
        # An idle worker may accept a whole volley before the other wakes: volleys until both answered.
        for _ in range(50):
            answers = await _at_once("GET", f"{base}/{name}/readyz", [{}] * RACERS)
            assert [r.status_code for r in answers] == [200] * RACERS, (name, [r.text for r in answers])
            pids.update(r.headers[WORKER_HEADER] for r in answers)
            if len(pids) == 2:
                break
        assert len(pids) == 2, (name, pids)
        assert str(services[name].process.pid) not in pids  # type: ignore[union-attr]


async def _merchant(catalog: str, payments: str) -> str:
    """A merchant of an item of its own, through the catalog's API; once both payments workers
    open its bills."""
    item_id, merchant_id = f"500106:{uuid.uuid4().int % 900 + 100}", f"m-{uuid.uuid4().hex[:8]}"
    item = {
        "item_id": item_id, "kind": "service", "name": "水费缴纳", "department": "区城市管理局",
        "card_forms": ["physical"], "categories": ["payment"], "plan": {"2026": 1},
    }  # fmt: skip
    merchant = {"merchant_id": merchant_id, "name": "水务", "jurisdiction": "500106", "item_id": item_id}
    async with httpx.AsyncClient(headers=ADMIN, timeout=30) as c:
        ok(await c.post(f"{catalog}/catalog/v1/items", json=item), 201)
        ok(await c.post(f"{catalog}/catalog/v1/merchants", json=merchant), 201)
        # Both payments workers' catalogue views learn the merchant from the catalog's topic.
        refused: list[str] = []
        for _ in range(300):
            volley = [_bill(merchant_id) for _ in range(8)]  # each its own bill_ref
            bills = await _at_once("POST", f"{payments}/payments/v1/bills", volley)
            refused = [f"{r.status_code} {r.text}" for r in bills if r.status_code != 201]
            if not refused:
                return merchant_id
            await asyncio.sleep(0.2)
    pytest.fail(f"payments never learnt the merchant: {refused}")


def _bill(merchant_id: str, amount_fen: int = 1500) -> dict[str, Any]:
    return {"json": {"merchant_id": merchant_id, "bill_ref": uuid.uuid4().hex[:12], "amount_fen": amount_fen}}


def _payment(seq: int, key: str | None = None) -> dict[str, Any]:
    card = people.card(seq, "500103", prefix="P", name="张三丰", born="19800101")
    return {
        "json": {"method": "card_account", "card": card},
        "headers": {"Idempotency-Key": key or uuid.uuid4().hex},
    }


async def test_payments_across_two_workers_settle_a_bill_once(services: ServiceGroup) -> None:
    catalog, payments = services.base("catalog"), services.base("payments")
    merchant_id = await _merchant(catalog, payments)
    async with httpx.AsyncClient(headers=ADMIN, timeout=30) as c:
        for attempt in range(5):
            # One bill paid from RACERS different cards at once: one payment settles it.
            bill = ok(await c.post(f"{payments}/payments/v1/bills", **_bill(merchant_id)), 201)["bill_id"]
            url = f"{payments}/payments/v1/bills/{bill}/payments"
            racing = await _at_once("POST", url, [_payment(attempt * 100 + i) for i in range(RACERS)])
            settled = [r for r in racing if r.status_code == 201 and r.json()["status"] == "settled"]
            assert len(settled) == 1, [r.text for r in racing]
            assert all(r.status_code == 409 for r in racing if r not in settled), [r.text for r in racing]
            shown = ok(await c.get(f"{payments}/payments/v1/bills/{bill}"))
            assert [p["status"] for p in shown["payments"]] == ["settled"], shown

            # One Idempotency-Key sent RACERS times at once: claimed once, one payment.
            bill = ok(await c.post(f"{payments}/payments/v1/bills", **_bill(merchant_id)), 201)["bill_id"]
            url = f"{payments}/payments/v1/bills/{bill}/payments"
            key = uuid.uuid4().hex
            same = await _at_once("POST", url, [_payment(attempt, key)] * RACERS)
            assert {r.status_code for r in same} <= {201, 409}, [r.text for r in same]
            assert len({r.json()["payment_id"] for r in same if r.status_code == 201}) == 1
            shown = ok(await c.get(f"{payments}/payments/v1/bills/{bill}"))
            assert len(shown["payments"]) == 1, shown
            if len(_workers(racing)) == 2 and len(_workers(same)) == 2:
                return
    pytest.fail("the racing payments never reached both workers")

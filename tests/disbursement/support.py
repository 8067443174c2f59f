"""Shared helpers for the disbursement tests (and bench/disbursement_batch.py): items, programs
and batches, in process or against `onecard serve disbursement` over HTTP."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from onecard_catalog.domain.events import ItemPublished, ItemRetired

from tests.support.catalogue import seed_catalog
from tests.support.platform import RunningPlatform
from tests.support.waiting import eventually

DEPARTMENT = "梁平区人力社保局"


def item(item_id: str, *, categories: list[str] | None = None, jurisdiction: str = "500155") -> ItemPublished:
    return ItemPublished(
        item={
            "item_id": item_id,
            "jurisdiction": jurisdiction,
            "seq": 1,
            "kind": "service",
            "name": "城乡居民养老保险待遇发放",
            "department": DEPARTMENT,
            "categories": categories if categories is not None else ["disbursement"],
        },
        version=1,
        valid_from="2024-01-01T00:00:00Z",
    )


def retired(item_id: str) -> ItemRetired:
    return ItemRetired(item_id=item_id, version=2, valid_from="2024-06-01T00:00:00Z")


publish = seed_catalog


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def program_body(program_id: str, item_id: str) -> dict[str, str]:
    return {"program_id": program_id, "item_id": item_id, "name": "养老金", "jurisdiction": "500155"}


async def program(running: RunningPlatform, *, item_id: str | None = None) -> str:
    item_id = item_id or uid("500155:A")
    await publish(running, item(item_id))
    program_id = uid("P")
    response = await running.client.post(
        "/disbursement/v1/programs", json=program_body(program_id, item_id), headers=running.admin
    )
    assert response.status_code == 201, response.text
    return program_id


async def create_program(client: httpx.AsyncClient, headers: dict[str, str], item_id: str) -> str:
    """Create a program over HTTP at once: the service's catalogue view catches up with the
    item before it would refuse it."""
    program_id = uid("P")
    response = await client.post(
        "/disbursement/v1/programs", json=program_body(program_id, item_id), headers=headers
    )
    assert response.status_code == 201, response.text
    return program_id


def batch_body(
    batch_id: str,
    program_id: str,
    rows: list[dict[str, Any]],
    *,
    period: str = "2025-06",
    count: int | None = None,
    total: int | None = None,
) -> dict[str, Any]:
    """A batch's declaration, its control count and total those of `rows` unless given."""
    return {
        "batch_id": batch_id,
        "program_id": program_id,
        "period": period,
        "control_count": len(rows) if count is None else count,
        "control_total_fen": sum(r["amount_fen"] for r in rows) if total is None else total,
    }


async def batch(
    running: RunningPlatform, program_id: str, rows: list[dict[str, Any]], **declared: Any
) -> str:
    """Declare a batch (`declared`: period, count, total as for `batch_body`); returns its id."""
    batch_id = uid("B")
    body = batch_body(batch_id, program_id, rows, **declared)
    response = await running.client.post("/disbursement/v1/batches", json=body, headers=running.admin)
    assert response.status_code == 201, response.text
    return batch_id


async def add(running: RunningPlatform, batch_id: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    response = await running.client.post(
        f"/disbursement/v1/batches/{batch_id}/payees", json={"payees": rows}, headers=running.admin
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def submit(running: RunningPlatform, batch_id: str) -> httpx.Response:
    return await running.client.post(f"/disbursement/v1/batches/{batch_id}/submit", headers=running.admin)


async def status(running: RunningPlatform, batch_id: str) -> dict[str, Any]:
    response = await running.client.get(f"/disbursement/v1/batches/{batch_id}", headers=running.admin)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def completed(running: RunningPlatform, batch_id: str) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        s = await status(running, batch_id)
        return s if s["status"] == "completed" else None

    result: dict[str, Any] = await eventually(done, timeout=30)
    return result


def manual_bank(running: RunningPlatform) -> None:
    """The simulated bank records orders but posts nothing: the test plays the bank's callback."""
    running.runtime("disbursement").bank.config.auto_post = False


async def at_bank(running: RunningPlatform, batch_id: str, orders: int) -> None:
    """Wait until the dispatcher has handed the batch's orders to the bank: a bank answers only
    orders it holds, so a test playing its callback must not answer before them."""
    bank = running.runtime("disbursement").bank

    async def held() -> bool | None:
        return len(await bank.statement(batch_id)) >= orders or None

    await eventually(held, timeout=30)

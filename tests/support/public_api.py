"""A small world built through the public APIs, the way a venue system's integrator would: for
tests that drive services running as processes (the live Prometheus test, the chaos suite)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx


def ok(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    """The JSON body of a response with one of `statuses` (200 or 201 by default)."""
    assert response.status_code in (statuses or (200, 201)), (
        f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
    )
    body: dict[str, Any] = response.json() if response.content else {}
    return body


@dataclass(frozen=True)
class Place:
    """Where a test's world lives: an item, a venue and its terminal; `label` names them (in
    Chinese, as a department would)."""

    item_id: str
    venue_id: str
    terminal_id: str
    jurisdiction: str
    label: str


async def place_with_merchant(c: httpx.AsyncClient, catalog: str, place: Place) -> str:
    """An item for identity, payment and disbursement (planned at level 3 around this year), a
    venue with a terminal for both card forms, and a merchant in the e-card agreement; returns the
    merchant id."""
    year = datetime.now(UTC).year
    item = {
        "item_id": place.item_id,
        "kind": "service",
        "name": f"{place.label}验收事项",
        "department": "区大数据局",
        "card_forms": ["physical", "electronic"],
        "categories": ["identity", "payment", "disbursement"],
        "plan": {str(y): 3 for y in range(year - 1, year + 2)},
    }
    ok(await c.post(f"{catalog}/catalog/v1/items", json=item), 201)
    venue = {
        "venue_id": place.venue_id,
        "name": f"{place.label}图书馆",
        "jurisdiction": place.jurisdiction,
        "item_id": place.item_id,
    }
    ok(await c.post(f"{catalog}/catalog/v1/venues", json=venue), 201)
    terminal = {"terminal_id": place.terminal_id, "card_forms": ["physical", "electronic"]}
    ok(await c.post(f"{catalog}/catalog/v1/venues/{place.venue_id}/terminals", json=terminal), 201)
    merchant_id = f"m-{uuid.uuid4().hex[:8]}"
    merchant = {
        "merchant_id": merchant_id,
        "name": f"{place.label}商户",
        "jurisdiction": place.jurisdiction,
        "item_id": place.item_id,
    }
    ok(await c.post(f"{catalog}/catalog/v1/merchants", json=merchant), 201)
    ok(await c.put(f"{catalog}/catalog/v1/merchants/{merchant_id}/ecard-agreement"))
    return merchant_id


async def program_for(c: httpx.AsyncClient, disbursement: str, place: Place) -> str:
    """A disbursement program for the place's item, created at once (disbursement's view of the
    catalogue catches up with the item before it would refuse it); returns the program id."""
    program_id = f"P-{uuid.uuid4().hex[:8]}"
    body = {"program_id": program_id, "item_id": place.item_id, "name": f"{place.label}补贴"}
    body["jurisdiction"] = place.jurisdiction
    ok(await c.post(f"{disbursement}/disbursement/v1/programs", json=body), 201)
    return program_id

"""Shared set-up for the identity tests: venues, cards and calls."""

from __future__ import annotations

from typing import Any

import httpx
from onecard_catalog.domain.events import TerminalDeployed, VenueRegistered
from onecard_events.tables import events
from onecard_identity.adapters.context import Identity
from onecard_service.auth import Principal
from sqlalchemy import select

from tests.support import people
from tests.support.catalogue import seed_catalog
from tests.support.platform import RunningPlatform, token_for

VENUE = "v-lib-500106"
TERMINAL = "t1"
ITEM = "500000:30"


make_ssn = people.ssn
seed = seed_catalog


def identity(running: RunningPlatform) -> Identity:
    ctx: Identity = running.runtime("identity").app.state.identity
    return ctx


async def seed_venue(
    running: RunningPlatform,
    venue_id: str = VENUE,
    jurisdiction: str = "500106",
    terminals: dict[str, list[str]] | None = None,
) -> None:
    forms = terminals if terminals is not None else {TERMINAL: ["physical", "electronic"]}
    await seed(
        running,
        VenueRegistered(venue_id=venue_id, name="Library", jurisdiction=jurisdiction, item_id=ITEM),
        *(TerminalDeployed(venue_id=venue_id, terminal_id=t, card_forms=f) for t, f in forms.items()),
    )


def venue_headers(running: RunningPlatform, *venues: str, client_id: str = "venue-client") -> dict[str, str]:
    return token_for(running, Principal(client_id, "venue", venues=frozenset(venues or (VENUE,))))


async def register(
    running: RunningPlatform, card_no: str, ssn: str, name: str = "张三", region: str = "500106"
) -> httpx.Response:
    body = {"card_no": card_no, "ssn": ssn, "name": name, "issuer_region": region}
    return await running.client.post("/identity/v1/cards", json=body, headers=running.admin)


async def set_status(running: RunningPlatform, card_no: str, status: str) -> httpx.Response:
    return await running.client.post(
        f"/identity/v1/cards/{card_no}/status", json={"status": status}, headers=running.admin
    )


async def issue_code(running: RunningPlatform, card_no: str) -> str:
    response = await running.client.post(f"/identity/v1/cards/{card_no}/qr", headers=running.admin)
    assert response.status_code == 200, response.text
    qr: str = response.json()["qr"]
    return qr


async def ecard_and_code(running: RunningPlatform, card_no: str) -> str:
    response = await running.client.post(f"/identity/v1/cards/{card_no}/ecard", headers=running.admin)
    assert response.status_code == 200, response.text
    return await issue_code(running, card_no)


async def verify_physical(
    running: RunningPlatform,
    card_no: str,
    ssn: str,
    name: str = "张三",
    region: str = "500106",
    *,
    headers: dict[str, str] | None = None,
    venue_id: str = VENUE,
    terminal_id: str = TERMINAL,
) -> httpx.Response:
    body: dict[str, Any] = {
        "venue_id": venue_id,
        "terminal_id": terminal_id,
        "method": "physical",
        "card": {"card_no": card_no, "ssn": ssn, "name": name, "issuer_region": region},
    }
    return await running.client.post(
        "/identity/v1/verifications", json=body, headers=headers or venue_headers(running)
    )


async def verify_code(
    running: RunningPlatform,
    qr: str,
    *,
    headers: dict[str, str] | None = None,
    venue_id: str = VENUE,
    terminal_id: str = TERMINAL,
) -> httpx.Response:
    body = {"venue_id": venue_id, "terminal_id": terminal_id, "method": "electronic", "qr": qr}
    return await running.client.post(
        "/identity/v1/verifications", json=body, headers=headers or venue_headers(running)
    )


async def outcome(response: httpx.Response) -> tuple[bool, str | None]:
    assert response.status_code == 200, response.text
    body = response.json()
    return body["verified"], body["reason"]


async def identity_events(running: RunningPlatform, event_type: str | None = None) -> list[Any]:
    """Every stored identity event, straight from the table: `read_all` holds back rows newer than
    the oldest transaction open anywhere on the shared PostgreSQL server."""
    store = running.runtime("identity").store
    async with store.db.engine.connect() as conn:
        rows = (await conn.execute(select(events).order_by(events.c.position))).mappings().all()
    records = [store._record(r) for r in rows]
    return [r for r in records if event_type is None or r.event_type == event_type]

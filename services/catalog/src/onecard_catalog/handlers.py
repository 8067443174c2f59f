"""The catalogue's use cases: load an aggregate, let the domain decide, append, update the tables.

Every command runs in one transaction: the stream is loaded, the new events are appended at the
loaded version (a concurrent writer gets a 409), and the query tables are updated from what the
store actually recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from onecard_events.database import Database
from onecard_events.model import DomainEvent, RecordedEvent
from onecard_events.store import EventStore
from onecard_service.auth import Principal, TokenSigner
from sqlalchemy.ext.asyncio import AsyncConnection

from .adapters import queries, tables
from .domain import clients, items, places
from .domain.errors import invalid, unknown

Decide = Callable[[list[DomainEvent], AsyncConnection], Awaitable[list[DomainEvent]]]


@dataclass
class Catalog:
    """What the use cases need: the database, the store, the token signer, change listeners."""

    db: Database
    store: EventStore
    signer: Callable[[], TokenSigner]
    on_items_changed: list[Callable[[], None]] = field(default_factory=list)

    def items_changed(self) -> None:
        for listener in self.on_items_changed:
            listener()


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def _execute(cat: Catalog, stream_id: str, decide: Decide) -> list[RecordedEvent]:
    async with cat.db.engine.begin() as conn:
        history, version = await cat.store.load(conn, stream_id)
        new = await decide(history, conn)
        if not new:
            return []
        recorded = await cat.store.append(conn, stream_id, new, expected_version=version)
        await tables.record(conn, recorded)
    return recorded


async def _require_jurisdiction(conn: AsyncConnection, code: str, field_name: str = "jurisdiction") -> None:
    if code not in await queries.jurisdiction_kinds(conn):
        raise invalid(field_name, f"jurisdiction {code!r} is not known")


# -- jurisdictions -------------------------------------------------------------------------------


async def add_jurisdiction(cat: Catalog, code: str, name: str, kind: str) -> dict[str, Any]:
    async def decide(history: list[DomainEvent], _conn: AsyncConnection) -> list[DomainEvent]:
        return [places.add_jurisdiction(bool(history), code, name, kind)]

    await _execute(cat, f"jurisdiction-{code}", decide)
    return {"code": code, "name": name.strip(), "kind": kind}


# -- items ---------------------------------------------------------------------------------------


async def _current_item(cat: Catalog, item_id: str) -> dict[str, Any]:
    async with cat.db.engine.connect() as conn:
        found = await queries.get_item(conn, item_id, None)
    if found is None:
        raise unknown("item", item_id)
    return found


async def publish_item(cat: Catalog, raw: dict[str, Any]) -> dict[str, Any]:
    item = items.normalise_item(raw)

    async def decide(history: list[DomainEvent], conn: AsyncConnection) -> list[DomainEvent]:
        await _require_jurisdiction(conn, item["jurisdiction"])
        state = items.Item.from_events(item["item_id"], history)
        return [items.publish(state, item, now_rfc3339())]

    await _execute(cat, items.stream_of(item["item_id"]), decide)
    cat.items_changed()
    return await _current_item(cat, item["item_id"])


async def revise_item(cat: Catalog, item_id: str, raw: dict[str, Any]) -> dict[str, Any]:
    expected = raw.get("version")
    item = items.normalise_item({**raw, "item_id": raw.get("item_id", item_id)})
    if item["item_id"] != item_id:
        raise invalid("item_id", f"must be {item_id}, the item being revised")
    if expected is not None and (isinstance(expected, bool) or not isinstance(expected, int)):
        raise invalid("version", "must be the integer version the change is based on")

    async def decide(history: list[DomainEvent], _conn: AsyncConnection) -> list[DomainEvent]:
        state = items.Item.from_events(item_id, history)
        revision = items.revise(state, item, now_rfc3339(), expected)
        return [revision] if revision else []

    if await _execute(cat, items.stream_of(item_id), decide):
        cat.items_changed()
    return await _current_item(cat, item_id)


async def retire_item(cat: Catalog, item_id: str) -> dict[str, Any]:
    async def decide(history: list[DomainEvent], _conn: AsyncConnection) -> list[DomainEvent]:
        retirement = items.retire(items.Item.from_events(item_id, history), now_rfc3339())
        return [retirement] if retirement else []

    if await _execute(cat, items.stream_of(item_id), decide):
        cat.items_changed()
    return await _current_item(cat, item_id)


# -- venues and terminals ------------------------------------------------------------------------


async def _check_place(
    conn: AsyncConnection, use: str, category: str, jurisdiction: str, item_id: str
) -> None:
    await _require_jurisdiction(conn, jurisdiction)
    facts = await queries.item_facts(conn, item_id)
    places.check_item_for(use, category, facts, item_id, jurisdiction)


async def register_venue(cat: Catalog, venue_id: str, name: str, jurisdiction: str, item_id: str) -> None:
    async def decide(history: list[DomainEvent], conn: AsyncConnection) -> list[DomainEvent]:
        state = places.Venue.from_events(venue_id, history)
        event = places.register_venue(state, name.strip(), jurisdiction, item_id)
        await _check_place(conn, "venue", "identity", jurisdiction, item_id)
        return [event]

    await _execute(cat, f"venue-{venue_id}", decide)


async def deploy_terminal(cat: Catalog, venue_id: str, terminal_id: str, card_forms: list[str]) -> None:
    async def decide(history: list[DomainEvent], _conn: AsyncConnection) -> list[DomainEvent]:
        state = places.Venue.from_events(venue_id, history)
        return [places.deploy_terminal(state, terminal_id, card_forms)]

    await _execute(cat, f"venue-{venue_id}", decide)


async def decommission_terminal(cat: Catalog, venue_id: str, terminal_id: str) -> None:
    async def decide(history: list[DomainEvent], _conn: AsyncConnection) -> list[DomainEvent]:
        event = places.decommission_terminal(places.Venue.from_events(venue_id, history), terminal_id)
        return [event] if event else []

    await _execute(cat, f"venue-{venue_id}", decide)


# -- merchants -----------------------------------------------------------------------------------


async def register_merchant(
    cat: Catalog, merchant_id: str, name: str, jurisdiction: str, item_id: str
) -> None:
    async def decide(history: list[DomainEvent], conn: AsyncConnection) -> list[DomainEvent]:
        state = places.Merchant.from_events(merchant_id, history)
        event = places.register_merchant(state, name.strip(), jurisdiction, item_id)
        await _check_place(conn, "merchant", "payment", jurisdiction, item_id)
        return [event]

    await _execute(cat, f"merchant-{merchant_id}", decide)


async def set_agreement(cat: Catalog, merchant_id: str, joined: bool) -> None:
    async def decide(history: list[DomainEvent], _conn: AsyncConnection) -> list[DomainEvent]:
        event = places.set_agreement(places.Merchant.from_events(merchant_id, history), joined)
        return [event] if event else []

    await _execute(cat, f"merchant-{merchant_id}", decide)


# -- clients -------------------------------------------------------------------------------------


async def register_client(cat: Catalog, request: clients.ClientRequest) -> dict[str, Any]:
    """Record the client and hand out its token once; the token itself is never stored."""
    client_id = f"cl_{uuid.uuid4().hex}"
    # Fail before recording anything when this process cannot sign (no private key configured).
    signer = cat.signer()

    async def decide(_history: list[DomainEvent], conn: AsyncConnection) -> list[DomainEvent]:
        kinds = await queries.jurisdiction_kinds(conn)
        partners = {code for code, kind in kinds.items() if kind == "partner"}
        return [clients.register_client(client_id, request, partners, set(kinds))]

    recorded = await _execute(cat, f"client-{client_id}", decide)
    d = recorded[0].data
    principal = Principal(
        client_id=client_id,
        role=d["role"],
        venues=frozenset(d["venues"]),
        merchants=frozenset(d["merchants"]),
        department=d["department"],
        jurisdiction=d["jurisdiction"],
        region=d["region"],
    )
    scope = {k: d[k] for k in clients.SCOPE_FIELDS if d[k]}
    return {
        "client_id": client_id,
        "token": signer.issue(principal),
        "role": d["role"],
        "name": d["name"],
        **scope,
    }


async def revoke_client(cat: Catalog, client_id: str) -> None:
    async def decide(history: list[DomainEvent], _conn: AsyncConnection) -> list[DomainEvent]:
        event = clients.revoke_client(clients.Client.from_events(client_id, history))
        return [event] if event else []

    await _execute(cat, f"client-{client_id}", decide)

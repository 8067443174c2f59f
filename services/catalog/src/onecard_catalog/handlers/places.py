"""Venues with their terminals, merchants with their e-card agreement: reads and changes.

A registration checks the item it serves and its jurisdiction against the query tables, read in
the command's own transaction, and lets the aggregate decide.
"""

from __future__ import annotations

from typing import Any

from ..adapters import queries
from ..domain.places import Merchant, Venue
from .context import Catalog, commit, found, read


async def list_venues(
    cat: Catalog, item_id: str | None = None, jurisdiction: str | None = None
) -> list[dict[str, Any]]:
    return await read(cat, queries.list_venues, item_id, jurisdiction)


async def get_venue(cat: Catalog, venue_id: str) -> dict[str, Any]:
    return found(await read(cat, queries.get_venue, venue_id), "venue", venue_id)


async def list_merchants(
    cat: Catalog, item_id: str | None = None, jurisdiction: str | None = None
) -> list[dict[str, Any]]:
    return await read(cat, queries.list_merchants, item_id, jurisdiction)


async def get_merchant(cat: Catalog, merchant_id: str) -> dict[str, Any]:
    return found(await read(cat, queries.get_merchant, merchant_id), "merchant", merchant_id)


async def register_venue(
    cat: Catalog, venue_id: str, name: str, jurisdiction: str, item_id: str
) -> dict[str, Any]:
    async with cat.store.unit_of_work() as uow:
        known = jurisdiction in await queries.jurisdiction_kinds(uow.connection)
        facts = await queries.item_facts(uow.connection, item_id)
        venue = await uow.get(f"venue-{venue_id}", Venue(venue_id))
        venue.register(name.strip(), jurisdiction, item_id, known, facts)
        await commit(uow)
    return await get_venue(cat, venue_id)


async def deploy_terminal(cat: Catalog, venue_id: str, terminal_id: str, card_forms: list[str]) -> None:
    async with cat.store.unit_of_work() as uow:
        venue = await uow.get(f"venue-{venue_id}", Venue(venue_id))
        venue.deploy_terminal(terminal_id, card_forms)
        await commit(uow)


async def decommission_terminal(cat: Catalog, venue_id: str, terminal_id: str) -> None:
    async with cat.store.unit_of_work() as uow:
        venue = await uow.get(f"venue-{venue_id}", Venue(venue_id))
        venue.decommission_terminal(terminal_id)
        await commit(uow)


async def register_merchant(
    cat: Catalog, merchant_id: str, name: str, jurisdiction: str, item_id: str
) -> dict[str, Any]:
    async with cat.store.unit_of_work() as uow:
        known = jurisdiction in await queries.jurisdiction_kinds(uow.connection)
        facts = await queries.item_facts(uow.connection, item_id)
        merchant = await uow.get(f"merchant-{merchant_id}", Merchant(merchant_id))
        merchant.register(name.strip(), jurisdiction, item_id, known, facts)
        await commit(uow)
    return await get_merchant(cat, merchant_id)


async def set_agreement(cat: Catalog, merchant_id: str, joined: bool) -> dict[str, Any]:
    async with cat.store.unit_of_work() as uow:
        merchant = await uow.get(f"merchant-{merchant_id}", Merchant(merchant_id))
        merchant.set_agreement(joined)
        await commit(uow)
    return await get_merchant(cat, merchant_id)

"""Items: reading the versions in force, publishing, revising and retiring, each change in force
from the `effective_from` it names (default: now)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from onecard_events.times import now_rfc3339, rfc3339, utcnow

from ..adapters import queries
from ..domain import items
from ..domain.errors import invalid, not_in_force, unknown
from .context import Catalog, commit, found, read


async def list_items(cat: Catalog, wanted: queries.ItemFilter) -> list[dict[str, Any]]:
    return await read(cat, queries.list_items, wanted)


async def next_change(cat: Catalog) -> datetime | None:
    """When the next recorded version takes effect (the list of items in force now changes)."""
    return await read(cat, queries.next_change, utcnow())


async def get_item(cat: Catalog, item_id: str, as_of: datetime | None = None) -> dict[str, Any]:
    """The version in force at `as_of` (None: now). Refused (404) for an item that never existed,
    and for one not yet in force then. A retired item: at a given `as_of` 404 too (no longer in
    force); without one, its retirement (status `retired`), as before dates were kept."""
    at = as_of or utcnow()
    async with cat.db.reads.connect() as conn:
        item = await queries.get_item(conn, item_id, at)
        if item is None:
            first = await queries.first_in_force(conn, item_id)
            if first is None:
                raise unknown("item", item_id)
            raise not_in_force(item_id, rfc3339(at), rfc3339(first) if at < first else None)
    if as_of is not None and item["status"] == "retired":
        raise not_in_force(item_id, rfc3339(at), None)
    return item


async def _recorded(cat: Catalog, item_id: str) -> dict[str, Any]:
    """What a change answers: the version recorded last, whenever it takes effect."""
    return found(await read(cat, queries.latest_item, item_id), "item", item_id)


async def publish_item(
    cat: Catalog, raw: dict[str, Any], effective_from: str | None = None
) -> dict[str, Any]:
    item = items.normalise_item(raw)
    async with cat.store.unit_of_work() as uow:
        known = item["jurisdiction"] in await queries.jurisdiction_kinds(uow.connection)
        aggregate = await uow.get(items.stream_of(item["item_id"]), items.Item(item["item_id"]))
        aggregate.publish(item, now_rfc3339(), known, effective_from)
        await commit(uow)
    cat.items_changed()
    return await _recorded(cat, item["item_id"])


async def revise_item(
    cat: Catalog, item_id: str, raw: dict[str, Any], effective_from: str | None = None
) -> dict[str, Any]:
    expected = raw.get("version")
    item = items.normalise_item({**raw, "item_id": raw.get("item_id", item_id)})
    if item["item_id"] != item_id:
        raise invalid("item_id", f"must be {item_id}, the item being revised")
    if expected is not None and (isinstance(expected, bool) or not isinstance(expected, int)):
        raise invalid("version", "must be the integer version the change is based on")
    async with cat.store.unit_of_work() as uow:
        aggregate = await uow.get(items.stream_of(item_id), items.Item(item_id))
        aggregate.revise(item, now_rfc3339(), expected, effective_from)
        changed = await commit(uow)
    if changed:
        cat.items_changed()
    return await _recorded(cat, item_id)


async def retire_item(cat: Catalog, item_id: str, effective_from: str | None = None) -> dict[str, Any]:
    async with cat.store.unit_of_work() as uow:
        aggregate = await uow.get(items.stream_of(item_id), items.Item(item_id))
        aggregate.retire(now_rfc3339(), effective_from)
        changed = await commit(uow)
    if changed:
        cat.items_changed()
    return await _recorded(cat, item_id)

"""Items: reading the versions in force, publishing, revising and retiring."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from onecard_events.times import now_rfc3339

from ..adapters import queries
from ..domain import items
from ..domain.errors import invalid, unknown
from .context import Catalog, commit, found, read


async def list_items(cat: Catalog, wanted: queries.ItemFilter) -> list[dict[str, Any]]:
    return await read(cat, queries.list_items, wanted)


async def get_item(cat: Catalog, item_id: str, as_of: datetime | None = None) -> dict[str, Any] | None:
    """The version in force at `as_of` (now: the current one); None when the item exists but no
    version of it was in force then. Refused (404) for an item that never existed."""
    async with cat.db.engine.connect() as conn:
        item = await queries.get_item(conn, item_id, as_of)
        if item is None and not await queries.item_exists(conn, item_id):
            raise unknown("item", item_id)
    return item


async def _current(cat: Catalog, item_id: str) -> dict[str, Any]:
    return found(await get_item(cat, item_id), "item", item_id)


async def publish_item(cat: Catalog, raw: dict[str, Any]) -> dict[str, Any]:
    item = items.normalise_item(raw)
    async with cat.store.unit_of_work() as uow:
        known = item["jurisdiction"] in await queries.jurisdiction_kinds(uow.connection)
        aggregate = await uow.get(items.stream_of(item["item_id"]), items.Item(item["item_id"]))
        aggregate.publish(item, now_rfc3339(), known)
        await commit(uow)
    cat.items_changed()
    return await _current(cat, item["item_id"])


async def revise_item(cat: Catalog, item_id: str, raw: dict[str, Any]) -> dict[str, Any]:
    expected = raw.get("version")
    item = items.normalise_item({**raw, "item_id": raw.get("item_id", item_id)})
    if item["item_id"] != item_id:
        raise invalid("item_id", f"must be {item_id}, the item being revised")
    if expected is not None and (isinstance(expected, bool) or not isinstance(expected, int)):
        raise invalid("version", "must be the integer version the change is based on")
    async with cat.store.unit_of_work() as uow:
        aggregate = await uow.get(items.stream_of(item_id), items.Item(item_id))
        aggregate.revise(item, now_rfc3339(), expected)
        changed = await commit(uow)
    if changed:
        cat.items_changed()
    return await _current(cat, item_id)


async def retire_item(cat: Catalog, item_id: str) -> dict[str, Any]:
    async with cat.store.unit_of_work() as uow:
        aggregate = await uow.get(items.stream_of(item_id), items.Item(item_id))
        aggregate.retire(now_rfc3339())
        changed = await commit(uow)
    if changed:
        cat.items_changed()
    return await _current(cat, item_id)

"""Publishing the official catalogues and jurisdictions as catalogue events, once.

The events get ids derived from what they publish (uuid5 of the item id and version), and only
items and jurisdictions the query tables do not know yet are published. A restart therefore adds
nothing, two replicas seeding at once collide on the event ids instead of doubling the catalogue,
and an item an administrator has revised or retired since is left as it is. A later release that
ships more catalogue items publishes just those. An official item is in force from its document's
date (`onecard_contracts.catalogue_events.OFFICIAL_CATALOGUES`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from onecard_contracts.catalogue_events import official_effective_from
from onecard_events.model import NewEvent
from onecard_events.store import NO_STREAM
from onecard_events.times import now_rfc3339
from onecard_events.unit_of_work import UnitOfWork

from ..adapters import queries
from ..domain import items
from ..domain.places import Jurisdiction
from .context import Catalog, commit

log = logging.getLogger(__name__)
SEED_NAMESPACE = uuid.UUID("6f1c1c2e-0c55-4d7e-9a38-3c1f4a0c7a10")
Source = Callable[[], list[dict[str, Any]]]


def seed_event_id(*parts: str) -> str:
    return str(uuid.uuid5(SEED_NAMESPACE, ":".join(parts)))


def _record_jurisdictions(uow: UnitOfWork, data: list[dict[str, Any]], known: set[str]) -> None:
    for j in data:
        if j["code"] in known:
            continue
        added = Jurisdiction(j["code"]).add(j["name"], j["kind"])
        event = NewEvent(added, seed_event_id("jurisdiction", j["code"]))
        uow.record(f"jurisdiction-{j['code']}", [event], NO_STREAM)


def _record_items(uow: UnitOfWork, data: list[dict[str, Any]], known: set[str], now: str) -> None:
    for raw in data:
        item = items.normalise_item(raw)
        if item["item_id"] in known:
            continue
        # In force from its document's date (00:00 China time), not from today.
        effective = official_effective_from(item)
        published = items.Item(item["item_id"]).publish(item, now, effective_from=effective)
        event = NewEvent(published, seed_event_id("item", item["item_id"], "1"))
        uow.record(items.stream_of(item["item_id"]), [event], NO_STREAM)


async def seed_catalogues(cat: Catalog, jurisdictions: Source, catalogue_items: Source) -> int:
    """Publish what is missing; returns the number of events recorded (0 on a restart)."""
    async with cat.store.unit_of_work() as uow:
        known_jurisdictions = set(await queries.jurisdiction_kinds(uow.connection))
        known_items = await queries.known_item_ids(uow.connection)
        _record_jurisdictions(uow, jurisdictions(), known_jurisdictions)
        _record_items(uow, catalogue_items(), known_items, now_rfc3339())
        recorded = await commit(uow)
    if recorded:
        cat.items_changed()
        log.info("catalog: published %d catalogue events from the official catalogues", len(recorded))
    return len(recorded)

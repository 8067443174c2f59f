"""Publishing the official catalogues and jurisdictions as catalogue events, once.

The events get ids derived from what they publish (uuid5 of the item id and version), and only
items and jurisdictions the query tables do not know yet are published. A restart therefore adds
nothing, two replicas seeding at once collide on the event ids instead of doubling the catalogue,
and an item an administrator has revised or retired since is left as it is. A later release that
ships more catalogue items publishes just those.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from onecard_events.model import NewEvent
from onecard_events.store import NO_STREAM, StreamAppend

from .adapters import queries, tables
from .domain import items
from .domain.places import add_jurisdiction
from .handlers import Catalog, now_rfc3339

log = logging.getLogger(__name__)
SEED_NAMESPACE = uuid.UUID("6f1c1c2e-0c55-4d7e-9a38-3c1f4a0c7a10")
Source = Callable[[], list[dict[str, Any]]]


def seed_event_id(*parts: str) -> str:
    return str(uuid.uuid5(SEED_NAMESPACE, ":".join(parts)))


def _jurisdiction_appends(data: list[dict[str, Any]], known: set[str]) -> list[StreamAppend]:
    return [
        StreamAppend(
            f"jurisdiction-{j['code']}",
            [
                NewEvent(
                    add_jurisdiction(False, j["code"], j["name"], j["kind"]),
                    seed_event_id("jurisdiction", j["code"]),
                )
            ],
            NO_STREAM,
        )
        for j in data
        if j["code"] not in known
    ]


def _item_appends(data: list[dict[str, Any]], known: set[str], now: str) -> list[StreamAppend]:
    appends = []
    for raw in data:
        item = items.normalise_item(raw)
        if item["item_id"] in known:
            continue
        event = items.publish(items.Item(item["item_id"]), item, now)
        event_id = seed_event_id("item", item["item_id"], "1")
        appends.append(StreamAppend(items.stream_of(item["item_id"]), [NewEvent(event, event_id)], NO_STREAM))
    return appends


async def seed_catalogues(cat: Catalog, jurisdictions: Source, catalogue_items: Source) -> int:
    """Publish what is missing; returns the number of events recorded (0 on a restart)."""
    async with cat.db.engine.begin() as conn:
        known_jurisdictions = set(await queries.jurisdiction_kinds(conn))
        known_items = await queries.known_item_ids(conn)
        appends = _jurisdiction_appends(jurisdictions(), known_jurisdictions)
        appends += _item_appends(catalogue_items(), known_items, now_rfc3339())
        recorded = await cat.store.append_batch(conn, appends)
        await tables.record(conn, recorded)
    if recorded:
        cat.items_changed()
        log.info("catalog: published %d catalogue events from the official catalogues", len(recorded))
    return len(recorded)

"""Reads from the query tables: what the GET routes answer and the facts commands check against."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from onecard_events.times import aware, rfc3339
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.places import ItemFacts
from .tables import clients, in_force, item_versions, jurisdictions, merchants, terminals, venues


def _plain(row: Any) -> dict[str, Any]:
    # Column names come back as sqlalchemy's quoted_name, a str subclass orjson refuses as a key.
    return {str(k): v for k, v in row._mapping.items()}


@dataclass(frozen=True)
class ItemFilter:
    jurisdiction: str | None = None
    department: str | None = None
    category: str | None = None
    kind: str | None = None
    status: str | None = "active"
    as_of: datetime | None = None


async def list_jurisdictions(conn: AsyncConnection) -> list[dict[str, Any]]:
    rows = await conn.execute(select(jurisdictions).order_by(jurisdictions.c.code))
    return [_plain(r) for r in rows]


async def jurisdiction_kinds(conn: AsyncConnection) -> dict[str, str]:
    rows = await conn.execute(select(jurisdictions.c.code, jurisdictions.c.kind))
    return {r.code: r.kind for r in rows}


async def list_items(conn: AsyncConnection, f: ItemFilter) -> list[dict[str, Any]]:
    query = select(item_versions.c.item).where(in_force(f.as_of))
    if f.jurisdiction:
        query = query.where(item_versions.c.jurisdiction == f.jurisdiction)
    if f.department:
        query = query.where(item_versions.c.department == f.department)
    if f.kind:
        query = query.where(item_versions.c.kind == f.kind)
    if f.status:
        query = query.where(item_versions.c.status == f.status)
    items = [r.item for r in await conn.execute(query)]
    # Categories are a JSON list: filtering the few hundred rows here is simpler than JSON SQL
    # that differs between SQLite and PostgreSQL.
    if f.category:
        items = [i for i in items if f.category in i.get("categories", [])]
    items.sort(key=_catalogue_order)
    return items


def _catalogue_order(item: dict[str, Any]) -> tuple[str, str, int]:
    # 500155:A2 before A10, and 500000:2 before 500000:10.
    seq = str(item["seq"])
    prefix = seq.rstrip("0123456789")
    return item["jurisdiction"], prefix, int(seq[len(prefix) :] or 0)


async def get_item(conn: AsyncConnection, item_id: str, as_of: datetime | None) -> dict[str, Any] | None:
    query = select(item_versions.c.item).where(item_versions.c.item_id == item_id, in_force(as_of))
    row = (await conn.execute(query)).first()
    return dict(row.item) if row else None


async def latest_item(conn: AsyncConnection, item_id: str) -> dict[str, Any] | None:
    """The version recorded last (what a PUT or DELETE answers), whenever it takes effect."""
    query = (
        select(item_versions.c.item)
        .where(item_versions.c.item_id == item_id)
        .order_by(item_versions.c.version.desc())
        .limit(1)
    )
    row = (await conn.execute(query)).first()
    return dict(row.item) if row else None


async def first_in_force(conn: AsyncConnection, item_id: str) -> datetime | None:
    """When the item's earliest version takes effect; None for an item that never existed."""
    query = select(func.min(item_versions.c.valid_from)).where(item_versions.c.item_id == item_id)
    first = (await conn.execute(query)).scalar()
    return aware(first) if first is not None else None


async def next_change(conn: AsyncConnection, after: datetime) -> datetime | None:
    """The next moment after `after` at which a recorded version takes effect (None: none ahead)."""
    query = select(func.min(item_versions.c.valid_from)).where(item_versions.c.valid_from > after)
    moment = (await conn.execute(query)).scalar()
    return aware(moment) if moment is not None else None


async def item_exists(conn: AsyncConnection, item_id: str) -> bool:
    query = select(item_versions.c.version).where(item_versions.c.item_id == item_id).limit(1)
    return (await conn.execute(query)).first() is not None


async def known_item_ids(conn: AsyncConnection) -> set[str]:
    return set((await conn.execute(select(item_versions.c.item_id).distinct())).scalars())


async def item_facts(conn: AsyncConnection, item_id: str) -> ItemFacts | None:
    item = await get_item(conn, item_id, None)
    if item is None:
        return None
    return ItemFacts(item_id, item["jurisdiction"], item["status"], tuple(item.get("categories", [])))


async def _terminals_of(conn: AsyncConnection, venue_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {v: [] for v in venue_ids}
    if not venue_ids:
        return found
    query = select(terminals).where(terminals.c.venue_id.in_(venue_ids)).order_by(terminals.c.terminal_id)
    for row in await conn.execute(query):
        found[row.venue_id].append(
            {"terminal_id": row.terminal_id, "card_forms": list(row.card_forms), "active": row.active}
        )
    return found


async def _places(
    conn: AsyncConnection, table: Table, key: str, **wanted: str | None
) -> list[dict[str, Any]]:
    """Rows of `table` (venues or merchants) ordered by `key`, where each given column matches."""
    query = select(table).order_by(table.c[key])
    for column, value in wanted.items():
        if value:
            query = query.where(table.c[column] == value)
    return [_plain(r) for r in await conn.execute(query)]


async def list_venues(
    conn: AsyncConnection, item_id: str | None, jurisdiction: str | None, venue_id: str | None = None
) -> list[dict[str, Any]]:
    rows = await _places(
        conn, venues, "venue_id", item_id=item_id, jurisdiction=jurisdiction, venue_id=venue_id
    )
    attached = await _terminals_of(conn, [r["venue_id"] for r in rows])
    return [{**r, "terminals": attached[r["venue_id"]]} for r in rows]


async def list_merchants(
    conn: AsyncConnection, item_id: str | None, jurisdiction: str | None, merchant_id: str | None = None
) -> list[dict[str, Any]]:
    return await _places(
        conn, merchants, "merchant_id", item_id=item_id, jurisdiction=jurisdiction, merchant_id=merchant_id
    )


async def get_venue(conn: AsyncConnection, venue_id: str) -> dict[str, Any] | None:
    return next(iter(await list_venues(conn, None, None, venue_id)), None)


async def get_merchant(conn: AsyncConnection, merchant_id: str) -> dict[str, Any] | None:
    return next(iter(await list_merchants(conn, None, None, merchant_id)), None)


async def get_client(conn: AsyncConnection, client_id: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(clients).where(clients.c.client_id == client_id))).first()
    if row is None:
        return None
    return {
        "client_id": row.client_id,
        "role": row.role,
        "name": row.name,
        **{k: v for k, v in row.scope.items() if v},
        "status": row.status,
        "registered_at": rfc3339(row.registered_at),
    }

"""A service's own view of the catalogue, projected from the catalogue's events.

Identity needs venues and terminals, payments needs merchants, disbursement needs items; none of
them calls the catalogue on the request path. Each keeps these tables in its own database, fed by a
`ProjectionRunner` from the catalogue topic (distributed) or log (embedded).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from onecard_events.migrations import create_declared_tables
from onecard_events.model import RecordedEvent
from onecard_events.sql import chunks, upsert, upsert_rows
from onecard_events.tables import Json
from onecard_events.times import parse_rfc3339, utcnow
from sqlalchemy import Boolean, Column, MetaData, String, Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

view_metadata = MetaData()

catalog_items = Table(
    "catalog_items",
    view_metadata,
    Column("item_id", String(40), primary_key=True),
    Column("jurisdiction", String(6), nullable=False),
    Column("department", String(200), nullable=False),
    Column("status", String(10), nullable=False),
    Column("item", Json, nullable=False),
)
catalog_venues = Table(
    "catalog_venues",
    view_metadata,
    Column("venue_id", String(100), primary_key=True),
    Column("jurisdiction", String(6), nullable=False),
    Column("item_id", String(40), nullable=False),
)
catalog_terminals = Table(
    "catalog_terminals",
    view_metadata,
    Column("venue_id", String(100), primary_key=True),
    Column("terminal_id", String(100), primary_key=True),
    Column("card_forms", Json, nullable=False),
    Column("active", Boolean, nullable=False),
)
catalog_merchants = Table(
    "catalog_merchants",
    view_metadata,
    Column("merchant_id", String(100), primary_key=True),
    Column("jurisdiction", String(6), nullable=False),
    Column("item_id", String(40), nullable=False),
    Column("agreement", Boolean, nullable=False),
)


def create_catalog_view_tables() -> None:
    """DDL for an Alembic revision of any service that keeps the view."""
    create_declared_tables(catalog_items, catalog_venues, catalog_terminals, catalog_merchants)


def place_row(table: Table, data: Mapping[str, Any], **constants: Any) -> dict[str, Any]:
    """The row of `table` a place event makes: the event's fields that are columns of `table`,
    plus `constants` (a new terminal is active, a new merchant outside the agreement)."""
    return {**{c.name: data[c.name] for c in table.columns if c.name in data}, **constants}


@dataclass(frozen=True)
class RowChange:
    """What a catalogue event does to one row: an upsert of `row`, or an update of `values` in
    the row with primary key `key`."""

    table: Table
    row: dict[str, Any] | None = None
    key: tuple[Any, ...] = ()
    values: dict[str, Any] = field(default_factory=dict)


def place_change(event: RecordedEvent, venues: Table, terminals: Table, merchants: Table) -> RowChange | None:
    """The row change a venue, terminal or merchant event makes to the given tables; None for any
    other event. Written once for the catalog's own query tables (which keep names too) and every
    service's catalog_* view."""
    d = event.data
    match event.event_type:
        case "onecard.catalog.venue_registered":
            return RowChange(venues, place_row(venues, d))
        case "onecard.catalog.terminal_deployed":
            return RowChange(terminals, place_row(terminals, d, active=True))
        case "onecard.catalog.terminal_decommissioned":
            return RowChange(terminals, key=(d["venue_id"], d["terminal_id"]), values={"active": False})
        case "onecard.catalog.merchant_registered":
            return RowChange(merchants, place_row(merchants, d, agreement=False))
        case "onecard.catalog.merchant_joined_agreement" | "onecard.catalog.merchant_left_agreement":
            joined = event.event_type.endswith("joined_agreement")
            return RowChange(merchants, key=(d["merchant_id"],), values={"agreement": joined})
    return None


def _where(table: Table, key: tuple[Any, ...]) -> list[Any]:
    return [c == v for c, v in zip(table.primary_key, key, strict=True)]


async def apply_place_event(
    conn: AsyncConnection, event: RecordedEvent, venues: Table, terminals: Table, merchants: Table
) -> bool:
    """Apply a venue, terminal or merchant event to the given tables at once. False for any other
    event."""
    change = place_change(event, venues, terminals, merchants)
    if change is None:
        return False
    if change.row is not None:
        keys = [c.name for c in change.table.primary_key]
        await conn.execute(upsert(conn, change.table, change.row, keys))
    else:
        await conn.execute(
            update(change.table).where(*_where(change.table, change.key)).values(change.values)
        )
    return True


class CatalogViewProjection:
    """Keeps the catalog_* tables current. Names the runner's checkpoints `<service>_catalog_view`.

    `apply` only collects; `flush` writes a batch's changes as one multi-row upsert per table and
    one UPDATE per changed row that the batch did not also upsert. A fresh service applies the
    seeded catalogue (about 300 events) in a handful of statements instead of 300 round trips,
    which is most of its time from start to a current view.
    """

    def __init__(self, service: str) -> None:
        self.name = f"{service}_catalog_view"
        self._upserts: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
        self._updates: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}

    async def apply(self, conn: AsyncConnection, event: RecordedEvent) -> None:
        d = event.data
        match event.event_type:
            case "onecard.catalog.item_published":
                item = {**d["item"], "effective_from": d.get("effective_from") or d.get("valid_from")}
                row = {"item_id": item["item_id"], "jurisdiction": item["jurisdiction"]}
                department = item.get("department") or ""
                row |= {"department": department, "status": "active", "item": item}
                self._upsert(catalog_items, row)
            case "onecard.catalog.item_retired":
                await self._retire(conn, d["item_id"], d.get("effective_from") or d.get("valid_from"))
            case _:
                change = place_change(event, catalog_venues, catalog_terminals, catalog_merchants)
                if change is not None and change.row is not None:
                    self._upsert(change.table, change.row)
                elif change is not None:
                    self._update(change.table, change.key, **change.values)

    async def _retire(self, conn: AsyncConnection, item_id: str, effective_from: str | None) -> None:
        # The item keeps the moment its retirement takes effect (`retired_from`): a retirement
        # dated ahead leaves the item in force until then (find_item).
        key = (item_id,)
        pending = self._upserts.get(catalog_items.name, {}).get(key)
        if pending is not None:
            item = pending["item"]
        else:
            query = select(catalog_items.c.item).where(catalog_items.c.item_id == item_id)
            item = (await conn.execute(query)).scalar()
            item = self._updates.get(catalog_items.name, {}).get(key, {}).get("item", item)
        if item is None:
            self._update(catalog_items, key, status="retired")
            return
        self._update(catalog_items, key, status="retired", item={**item, "retired_from": effective_from})

    def _upsert(self, table: Table, row: dict[str, Any]) -> None:
        key = _key(table, row)
        self._updates.get(table.name, {}).pop(key, None)  # the later upsert wins over an update
        self._upserts.setdefault(table.name, {})[key] = row

    def _update(self, table: Table, key: tuple[Any, ...], **values: Any) -> None:
        pending = self._upserts.get(table.name, {}).get(key)
        if pending is not None:
            pending.update(values)
        else:
            self._updates.setdefault(table.name, {}).setdefault(key, {}).update(values)

    async def flush(self, conn: AsyncConnection) -> None:
        upserts, updates = self._upserts, self._updates
        self.discard()
        for name, rows in upserts.items():
            table = view_metadata.tables[name]
            keys = [c.name for c in table.primary_key]
            by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for row in rows.values():
                by_columns.setdefault(tuple(row), []).append(row)
            for same in by_columns.values():
                for part in chunks(same, 200):
                    await conn.execute(upsert_rows(conn, table, part, keys))
        for name, changes in updates.items():
            table = view_metadata.tables[name]
            for key, values in changes.items():
                await conn.execute(update(table).where(*_where(table, key)).values(**values))

    def discard(self) -> None:
        self._upserts, self._updates = {}, {}

    async def reset(self, conn: AsyncConnection) -> None:
        self.discard()
        for table in (catalog_terminals, catalog_venues, catalog_merchants, catalog_items):
            await conn.execute(delete(table))


def _key(table: Table, row: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(row[c.name] for c in table.primary_key)


@dataclass(frozen=True)
class MerchantView:
    merchant_id: str
    jurisdiction: str
    item_id: str
    agreement: bool


async def terminal_card_forms(conn: AsyncConnection, venue_id: str, terminal_id: str) -> list[str] | None:
    """Card forms an active terminal accepts; None when the terminal is unknown or decommissioned."""
    row = (
        await conn.execute(
            select(catalog_terminals.c.card_forms, catalog_terminals.c.active).where(
                catalog_terminals.c.venue_id == venue_id, catalog_terminals.c.terminal_id == terminal_id
            )
        )
    ).first()
    return list(row.card_forms) if row and row.active else None


async def find_merchant(conn: AsyncConnection, merchant_id: str) -> MerchantView | None:
    row = (
        await conn.execute(select(catalog_merchants).where(catalog_merchants.c.merchant_id == merchant_id))
    ).first()
    return MerchantView(row.merchant_id, row.jurisdiction, row.item_id, row.agreement) if row else None


async def find_item(conn: AsyncConnection, item_id: str) -> dict[str, Any] | None:
    """The item as its latest recorded version says, `status` as of now: an item whose retirement
    takes effect later is still `active`. (The view keeps one version per item: a revision dated
    ahead shows its content already; the catalog's API answers per date.)"""
    row = (await conn.execute(select(catalog_items).where(catalog_items.c.item_id == item_id))).first()
    if row is None:
        return None
    status = row.status
    retired_from = row.item.get("retired_from")
    if status == "retired" and retired_from and parse_rfc3339(retired_from) > utcnow():
        status = "active"
    return {**row.item, "status": status}

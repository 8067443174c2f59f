"""A service's own view of the catalogue, projected from the catalogue's events.

Identity needs venues and terminals, payments needs merchants, disbursement needs items; none of
them calls the catalogue on the request path. Each keeps these tables in its own database, fed by a
`ProjectionRunner` from the catalogue topic (distributed) or log (embedded).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic import op
from onecard_events.model import RecordedEvent
from onecard_events.tables import Json
from sqlalchemy import Boolean, Column, MetaData, String, Table, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
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
    op.create_table(
        "catalog_items",
        sa.Column("item_id", sa.String(40), primary_key=True),
        sa.Column("jurisdiction", sa.String(6), nullable=False),
        sa.Column("department", sa.String(200), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("item", Json, nullable=False),
    )
    op.create_table(
        "catalog_venues",
        sa.Column("venue_id", sa.String(100), primary_key=True),
        sa.Column("jurisdiction", sa.String(6), nullable=False),
        sa.Column("item_id", sa.String(40), nullable=False),
    )
    op.create_table(
        "catalog_terminals",
        sa.Column("venue_id", sa.String(100), primary_key=True),
        sa.Column("terminal_id", sa.String(100), primary_key=True),
        sa.Column("card_forms", Json, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "catalog_merchants",
        sa.Column("merchant_id", sa.String(100), primary_key=True),
        sa.Column("jurisdiction", sa.String(6), nullable=False),
        sa.Column("item_id", sa.String(40), nullable=False),
        sa.Column("agreement", sa.Boolean(), nullable=False),
    )


def _upsert(conn: AsyncConnection, table: Table, row: dict[str, Any], keys: list[str]) -> Any:
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = insert(table).values(**row)
    return statement.on_conflict_do_update(
        index_elements=keys, set_={k: v for k, v in row.items() if k not in keys}
    )


class CatalogViewProjection:
    """Keeps the catalog_* tables current. Names the runner's checkpoints `<service>_catalog_view`."""

    def __init__(self, service: str) -> None:
        self.name = f"{service}_catalog_view"

    async def apply(self, conn: AsyncConnection, event: RecordedEvent) -> None:
        d = event.data
        match event.event_type:
            case "onecard.catalog.item_published":
                item = d["item"]
                row = {
                    "item_id": item["item_id"],
                    "jurisdiction": item["jurisdiction"],
                    "department": item.get("department") or "",
                    "status": "active",
                    "item": item,
                }
                await conn.execute(_upsert(conn, catalog_items, row, ["item_id"]))
            case "onecard.catalog.item_retired":
                await conn.execute(
                    update(catalog_items)
                    .where(catalog_items.c.item_id == d["item_id"])
                    .values(status="retired")
                )
            case "onecard.catalog.venue_registered":
                row = {"venue_id": d["venue_id"], "jurisdiction": d["jurisdiction"], "item_id": d["item_id"]}
                await conn.execute(_upsert(conn, catalog_venues, row, ["venue_id"]))
            case "onecard.catalog.terminal_deployed":
                row = {
                    "venue_id": d["venue_id"],
                    "terminal_id": d["terminal_id"],
                    "card_forms": d["card_forms"],
                    "active": True,
                }
                await conn.execute(_upsert(conn, catalog_terminals, row, ["venue_id", "terminal_id"]))
            case "onecard.catalog.terminal_decommissioned":
                await conn.execute(
                    update(catalog_terminals)
                    .where(catalog_terminals.c.venue_id == d["venue_id"])
                    .where(catalog_terminals.c.terminal_id == d["terminal_id"])
                    .values(active=False)
                )
            case "onecard.catalog.merchant_registered":
                row = {
                    "merchant_id": d["merchant_id"],
                    "jurisdiction": d["jurisdiction"],
                    "item_id": d["item_id"],
                    "agreement": False,
                }
                await conn.execute(_upsert(conn, catalog_merchants, row, ["merchant_id"]))
            case "onecard.catalog.merchant_joined_agreement" | "onecard.catalog.merchant_left_agreement":
                joined = event.event_type.endswith("joined_agreement")
                await conn.execute(
                    update(catalog_merchants)
                    .where(catalog_merchants.c.merchant_id == d["merchant_id"])
                    .values(agreement=joined)
                )
            case _:
                return

    async def reset(self, conn: AsyncConnection) -> None:
        for table in (catalog_terminals, catalog_venues, catalog_merchants, catalog_items):
            await conn.execute(delete(table))


@dataclass(frozen=True)
class VenueView:
    venue_id: str
    jurisdiction: str
    item_id: str


@dataclass(frozen=True)
class MerchantView:
    merchant_id: str
    jurisdiction: str
    item_id: str
    agreement: bool


async def find_venue(conn: AsyncConnection, venue_id: str) -> VenueView | None:
    row = (await conn.execute(select(catalog_venues).where(catalog_venues.c.venue_id == venue_id))).first()
    return VenueView(row.venue_id, row.jurisdiction, row.item_id) if row else None


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
    row = (await conn.execute(select(catalog_items).where(catalog_items.c.item_id == item_id))).first()
    if row is None:
        return None
    return {**row.item, "status": row.status}

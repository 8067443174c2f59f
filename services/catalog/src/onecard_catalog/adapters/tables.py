"""The catalogue's query tables, kept in the same transaction as the events they are made from.

`record` applies freshly appended events; the handlers and the seeding call it with what the
store returned from `append`, so an event whose id was stored already (a retried command, a
restart's seeding) changes nothing here either.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from onecard_events.model import RecordedEvent
from onecard_events.tables import Json
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

metadata = MetaData()

jurisdictions = Table(
    "jurisdictions",
    metadata,
    Column("code", String(6), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
)
# One row per version; the version in force at T has valid_from <= T < valid_to (open: current).
item_versions = Table(
    "item_versions",
    metadata,
    Column("item_id", String(40), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("jurisdiction", String(6), nullable=False),
    Column("department", String(200), nullable=True),
    Column("kind", String(10), nullable=False),
    Column("status", String(10), nullable=False),
    Column("valid_from", DateTime(timezone=True), nullable=False),
    Column("valid_to", DateTime(timezone=True), nullable=True),
    Column("item", Json, nullable=False),
    Index("ix_item_versions_jurisdiction", "jurisdiction", "valid_to"),
)
venues = Table(
    "venues",
    metadata,
    Column("venue_id", String(100), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("jurisdiction", String(6), nullable=False),
    Column("item_id", String(40), nullable=False),
    Index("ix_venues_item", "item_id"),
)
terminals = Table(
    "terminals",
    metadata,
    Column("venue_id", String(100), primary_key=True),
    Column("terminal_id", String(100), primary_key=True),
    Column("card_forms", Json, nullable=False),
    Column("active", Boolean, nullable=False),
)
merchants = Table(
    "merchants",
    metadata,
    Column("merchant_id", String(100), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("jurisdiction", String(6), nullable=False),
    Column("item_id", String(40), nullable=False),
    Column("agreement", Boolean, nullable=False),
)
clients = Table(
    "clients",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("name", String(200), nullable=False),
    Column("scope", Json, nullable=False),
    Column("status", String(10), nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
)


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def _item_published(conn: AsyncConnection, d: dict[str, Any]) -> None:
    item = d["item"]
    await _close_current(conn, item["item_id"], parse_time(d["valid_from"]))
    await conn.execute(
        item_versions.insert().values(
            item_id=item["item_id"],
            version=d["version"],
            jurisdiction=item["jurisdiction"],
            department=item.get("department"),
            kind=item["kind"],
            status="active",
            valid_from=parse_time(d["valid_from"]),
            valid_to=None,
            item=item,
        )
    )


async def _item_retired(conn: AsyncConnection, d: dict[str, Any]) -> None:
    last = (
        await conn.execute(
            select(item_versions)
            .where(item_versions.c.item_id == d["item_id"])
            .order_by(item_versions.c.version.desc())
            .limit(1)
        )
    ).first()
    if last is None:
        return
    await _close_current(conn, d["item_id"], parse_time(d["valid_from"]))
    row = {**last._mapping, "version": d["version"], "status": "retired"}
    row.update(valid_from=parse_time(d["valid_from"]), valid_to=None)
    row["item"] = {**last.item, "version": d["version"], "status": "retired"}
    await conn.execute(item_versions.insert().values(**row))


async def _close_current(conn: AsyncConnection, item_id: str, at: datetime) -> None:
    await conn.execute(
        update(item_versions)
        .where(item_versions.c.item_id == item_id, item_versions.c.valid_to.is_(None))
        .values(valid_to=at)
    )


async def _apply(conn: AsyncConnection, event: RecordedEvent) -> None:
    d = event.data
    match event.event_type:
        case "onecard.catalog.item_published":
            await _item_published(conn, d)
        case "onecard.catalog.item_retired":
            await _item_retired(conn, d)
        case "onecard.catalog.jurisdiction_added":
            await conn.execute(jurisdictions.insert().values(code=d["code"], name=d["name"], kind=d["kind"]))
        case "onecard.catalog.venue_registered":
            await conn.execute(
                venues.insert().values(**{k: d[k] for k in ("venue_id", "name", "jurisdiction", "item_id")})
            )
        case "onecard.catalog.terminal_deployed":
            key = and_(terminals.c.venue_id == d["venue_id"], terminals.c.terminal_id == d["terminal_id"])
            await conn.execute(terminals.delete().where(key))
            await conn.execute(terminals.insert().values(**d, active=True))
        case "onecard.catalog.terminal_decommissioned":
            key = and_(terminals.c.venue_id == d["venue_id"], terminals.c.terminal_id == d["terminal_id"])
            await conn.execute(update(terminals).where(key).values(active=False))
        case "onecard.catalog.merchant_registered":
            fields = {k: d[k] for k in ("merchant_id", "name", "jurisdiction", "item_id")}
            await conn.execute(merchants.insert().values(**fields, agreement=False))
        case "onecard.catalog.merchant_joined_agreement" | "onecard.catalog.merchant_left_agreement":
            joined = event.event_type.endswith("joined_agreement")
            await conn.execute(
                update(merchants).where(merchants.c.merchant_id == d["merchant_id"]).values(agreement=joined)
            )
        case "onecard.catalog.client_registered":
            scope = {k: d.get(k) for k in ("venues", "merchants", "department", "jurisdiction", "region")}
            await conn.execute(
                clients.insert().values(
                    client_id=d["client_id"],
                    role=d["role"],
                    name=d["name"],
                    scope=scope,
                    status="active",
                    registered_at=event.recorded_at,
                )
            )
        case "onecard.catalog.client_revoked":
            await conn.execute(
                update(clients).where(clients.c.client_id == d["client_id"]).values(status="revoked")
            )
        case _:
            return


async def record(conn: AsyncConnection, recorded: Sequence[RecordedEvent]) -> None:
    for event in recorded:
        await _apply(conn, event)


def in_force(at: datetime | None) -> Any:
    """Rows of the versions in force at `at` (now: the open ones)."""
    if at is None:
        return item_versions.c.valid_to.is_(None)
    return and_(
        item_versions.c.valid_from <= at,
        or_(item_versions.c.valid_to.is_(None), item_versions.c.valid_to > at),
    )

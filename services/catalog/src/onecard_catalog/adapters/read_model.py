"""Keeps the catalogue's query tables, in the same transaction as the events they are made from.

`record` applies freshly appended events; the handlers and the seeding call it with what the
unit of work recorded, so an event whose id was stored already (a retried command, a restart's
seeding) changes nothing here either. Venues, terminals and merchants follow the same mapping as
every service's catalogue view (`onecard_contracts.catalog_view.apply_place_event`); items keep
every version here, and clients are the catalogue's alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from onecard_contracts.catalog_view import apply_place_event
from onecard_events.model import RecordedEvent
from onecard_events.times import parse_rfc3339
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.clients import SCOPE_FIELDS
from .tables import clients, item_versions, jurisdictions, merchants, terminals, venues


async def _item_published(conn: AsyncConnection, d: dict[str, Any]) -> None:
    item = d["item"]
    valid_from = parse_rfc3339(d["valid_from"])
    await _close_current(conn, item["item_id"], valid_from)
    await conn.execute(
        item_versions.insert().values(
            item_id=item["item_id"],
            version=d["version"],
            jurisdiction=item["jurisdiction"],
            department=item.get("department"),
            kind=item["kind"],
            status="active",
            valid_from=valid_from,
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
    valid_from = parse_rfc3339(d["valid_from"])
    await _close_current(conn, d["item_id"], valid_from)
    row = {**last._mapping, "version": d["version"], "status": "retired"}
    row.update(valid_from=valid_from, valid_to=None)
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
        case "onecard.catalog.client_registered":
            await conn.execute(
                clients.insert().values(
                    client_id=d["client_id"],
                    role=d["role"],
                    name=d["name"],
                    scope={k: d.get(k) for k in SCOPE_FIELDS},
                    status="active",
                    registered_at=event.recorded_at,
                )
            )
        case "onecard.catalog.client_revoked":
            await conn.execute(
                update(clients).where(clients.c.client_id == d["client_id"]).values(status="revoked")
            )
        case _:
            await apply_place_event(conn, event, venues, terminals, merchants)


async def record(conn: AsyncConnection, recorded: Sequence[RecordedEvent]) -> None:
    for event in recorded:
        await _apply(conn, event)

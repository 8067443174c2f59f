"""Keeps the catalogue's query tables, in the same transaction as the events they are made from.

`record` applies freshly appended events; the handlers and the seeding call it with what the
unit of work recorded, so an event whose id was stored already (a retried command, a restart's
seeding) changes nothing here either. Venues, terminals and merchants follow the same mapping as
every service's catalogue view (`onecard_contracts.catalog_view.apply_place_event`); items keep
every version here, each with the span it is in force (valid_from = its effective_from, valid_to
= the effective_from of the version that follows it in force), and clients are the catalogue's
alone. `version_row` and `closing_times` are also what migration catalog_0003 rebuilds the
versions with.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from onecard_contracts.catalog_view import apply_place_event
from onecard_events.model import RecordedEvent
from onecard_events.times import aware, parse_rfc3339
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.clients import SCOPE_FIELDS
from .tables import clients, item_versions, jurisdictions, merchants, terminals, venues


def version_row(d: dict[str, Any], last: dict[str, Any] | None) -> dict[str, Any] | None:
    """The item_versions row an item_published (`last` None) or item_retired payload (v2) makes;
    a retirement copies the latest version recorded before it (`last`, None: nothing to retire).
    The row's `item` is the item as GET answers it: with its version, status and both dates."""
    dates = {"effective_from": d["effective_from"], "recorded_at": d.get("recorded_at")}
    valid_from = parse_rfc3339(d["effective_from"])
    if "item" in d:
        item = d["item"]
        return {
            "item_id": item["item_id"],
            "version": d["version"],
            "jurisdiction": item["jurisdiction"],
            "department": item.get("department"),
            "kind": item["kind"],
            "status": "active",
            "valid_from": valid_from,
            "valid_to": None,
            "item": {**item, **dates},
        }
    if last is None:
        return None
    retired = {**last["item"], "version": d["version"], "status": "retired", **dates}
    return {**last, "version": d["version"], "status": "retired", "valid_from": valid_from, "item": retired}


def closing_times(versions: Sequence[tuple[int, datetime]]) -> dict[int, datetime | None]:
    """valid_to of each (version, valid_from) of one item: the valid_from of the version that
    follows it in force (ordered by valid_from, then by version), None for the last one. A
    version superseded by a later-recorded one of the same date gets valid_to == valid_from: it
    is never in force. With these, "in force at T" is valid_from <= T < valid_to."""
    ordered = sorted(versions, key=lambda v: (aware(v[1]), v[0]))
    following = [aware(v[1]) for v in ordered[1:]] + [None]
    return {version: until for (version, _), until in zip(ordered, following, strict=True)}


async def _latest(conn: AsyncConnection, item_id: str) -> dict[str, Any] | None:
    query = (
        select(item_versions)
        .where(item_versions.c.item_id == item_id)
        .order_by(item_versions.c.version.desc())
        .limit(1)
    )
    row = (await conn.execute(query)).first()
    return dict(row._mapping) if row else None


async def _item_version(conn: AsyncConnection, d: dict[str, Any]) -> None:
    item_id = d["item"]["item_id"] if "item" in d else d["item_id"]
    first = "item" in d and d["version"] == 1
    row = version_row(d, None if "item" in d else await _latest(conn, item_id))
    if row is None:
        return
    await conn.execute(item_versions.insert().values(**row))
    if not first:  # a first version is the only one, open: nothing to close
        await _close(conn, item_id)


async def _close(conn: AsyncConnection, item_id: str) -> None:
    """Set every version's valid_to again: a version may take effect before earlier ones."""
    query = select(item_versions.c.version, item_versions.c.valid_from, item_versions.c.valid_to).where(
        item_versions.c.item_id == item_id
    )
    rows = (await conn.execute(query)).all()
    closing = closing_times([(r.version, r.valid_from) for r in rows])
    for r in rows:
        until = closing[r.version]
        if (None if r.valid_to is None else aware(r.valid_to)) != until:
            await conn.execute(
                update(item_versions)
                .where(item_versions.c.item_id == item_id, item_versions.c.version == r.version)
                .values(valid_to=until)
            )


async def _apply(conn: AsyncConnection, event: RecordedEvent) -> None:
    d = event.data
    match event.event_type:
        case "onecard.catalog.item_published" | "onecard.catalog.item_retired":
            await _item_version(conn, d)
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

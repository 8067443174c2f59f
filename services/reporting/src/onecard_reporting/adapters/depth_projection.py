"""The depth projection: catalogue, identity, payments, disbursement and partner events into facts.

Catalogue events (few) are applied as they come: venues, terminals, merchants and items go into
the published catalogue view (`onecard_contracts.catalog_view`, its catalog_* tables), kept by
this projection in its own transaction so that every figure reflects one position; reporting adds
the item versions by validity date (plans by year) and the jurisdictions. The high-volume card-use
events are collected and written per fetched batch with set-based upserts (`flush`), inside the
runner's transaction. Every write is idempotent by its natural key (max / min / latest /
insert-or-ignore), so an event delivered twice changes nothing even without the runner's position
check.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from onecard_contracts.catalog_view import CatalogViewProjection
from onecard_events.model import RecordedEvent
from onecard_events.sql import (
    chunks,
    greatest,
    insert_columns,
    insert_for,
    is_postgres,
    least_known,
    upsert_rows,
)
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.levels import local_year, parse_time
from . import tables as t

log = logging.getLogger(__name__)
CARD_FORMS = ("physical", "electronic")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
VERIFICATION = "onecard.identity.verification_recorded"
PAYMENT = "onecard.payments.payment_settled"
PAYEE = "onecard.disbursement.payee_settled"
PARTNER_USE = "onecard.reporting.partner_card_used"
PAYEE_UPDATES = ("item_id", "jurisdiction", "year", "beneficiary_key", "channel", "outcome", "settled_at")


@dataclass
class Pending:
    """Facts collected from one batch, keyed so that the batch itself is already deduplicated."""

    activity: dict[str, datetime] = field(default_factory=dict)
    firsts: dict[tuple[str, str], dict[str, datetime]] = field(default_factory=dict)
    payees: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    uses: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Item versions and jurisdictions, by key: a fresh start applies the seeded catalogue's
    # ~300 of them, written in a few statements instead of one each.
    versions: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    jurisdictions: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(
            self.activity or self.firsts or self.payees or self.uses or self.versions or self.jurisdictions
        )


class DepthProjection:
    name = "reporting_depth"

    def __init__(self) -> None:
        self.pending = Pending()
        self.catalog_view = CatalogViewProjection("reporting")

    # -- the runner's interface ----------------------------------------------------------------

    async def apply(self, conn: AsyncConnection, event: RecordedEvent) -> None:
        await self.apply_batch(conn, [event])

    async def apply_batch(self, conn: AsyncConnection, events: Sequence[RecordedEvent]) -> None:
        """A fetched batch's events in order: card use is only collected (no I/O, no coroutine
        per event: a replay applies millions), catalogue events are written as they come."""
        for event in events:
            kind = event.event_type
            if kind == VERIFICATION:
                self._verification(event)
            elif kind == PAYMENT:
                self._payment(event.data)
            elif kind == PAYEE:
                self._payee(event.data)
            elif kind.startswith("onecard.catalog."):
                await self._catalog(conn, event)
            elif kind == PARTNER_USE:
                self._partner_use(event)

    async def flush(self, conn: AsyncConnection) -> None:
        await self.catalog_view.flush(conn)  # first: the writes below join venues to items
        pending, self.pending = self.pending, Pending()
        if pending:
            await _write_rows(conn, t.item_versions, list(pending.versions.values()), ["item_id", "version"])
            await _write_rows(conn, t.jurisdictions, list(pending.jurisdictions.values()), ["code"])
            await _write_activity(conn, pending.activity)
            await _write_firsts(conn, pending.firsts)
            await _write_payees(conn, pending.payees)
            await _write_uses(conn, pending.uses)

    def discard(self) -> None:
        self.pending = Pending()
        self.catalog_view.discard()

    async def reset(self, conn: AsyncConnection) -> None:
        self.discard()
        await self.catalog_view.reset(conn)
        for table in t.ALL:
            await conn.execute(delete(table))

    # -- catalogue -----------------------------------------------------------------------------

    async def _catalog(self, conn: AsyncConnection, event: RecordedEvent) -> None:
        # Venues, terminals, merchants and current items: the published catalogue view.
        await self.catalog_view.apply(conn, event)
        d = event.data
        match event.event_type.removeprefix("onecard.catalog."):
            case "item_published":
                item = d["item"]
                self._version(item["item_id"], d, False, item)
            case "item_retired":
                self._version(d["item_id"], d, True, {})
            case "jurisdiction_added":
                self.pending.jurisdictions[d["code"]] = {
                    "code": d["code"],
                    "name": d["name"],
                    "kind": d["kind"],
                }

    def _version(self, item_id: str, d: dict[str, Any], retired: bool, item: dict[str, Any]) -> None:
        valid_from = parse_time(d.get("valid_from")) or EPOCH
        version = int(d["version"])
        row = {
            "item_id": item_id,
            "version": version,
            "valid_from": valid_from,
            "retired": retired,
            "item": item,
        }
        self.pending.versions[(item_id, version)] = row

    # -- card use (collected, flushed per batch) -----------------------------------------------

    def _verification(self, event: RecordedEvent) -> None:
        d = event.data
        if not d.get("verified"):
            return
        at = parse_time(d.get("occurred_at")) or event.recorded_at
        venue = d["venue_id"]
        known = self.pending.activity.get(venue)
        self.pending.activity[venue] = at if known is None else max(known, at)
        partner = d.get("partner_region")
        if d.get("cross_region") and partner:
            self.pending.uses[event.event_id] = {
                "event_id": event.event_id,
                "direction": "inbound",
                "partner": partner,
                "item_id": d["item_id"],
                "jurisdiction": d["jurisdiction"],
                "occurred_at": at,
            }

    def _payment(self, d: dict[str, Any]) -> None:
        at = parse_time(d.get("settled_at"))
        method = d.get("method")
        if at is None or method not in ("card_account", "ecard"):
            return
        kinds = ["card_account_at" if method == "card_account" else "ecard_at"]
        if method == "ecard" and d.get("agreement_merchant"):
            kinds.append("agreement_ecard_at")
        firsts = self.pending.firsts.setdefault((d["item_id"], d["jurisdiction"]), {})
        for kind in kinds:
            firsts[kind] = min(firsts.get(kind, at), at)

    def _payee(self, d: dict[str, Any]) -> None:
        at = parse_time(d.get("settled_at"))
        if at is None:
            return
        key = (d["batch_id"], d["reference_id"])
        known = self.pending.payees.get(key)
        if known is not None and known["settled_at"] > at:
            return
        self.pending.payees[key] = {
            "batch_id": d["batch_id"],
            "reference_id": d["reference_id"],
            "item_id": d["item_id"],
            "jurisdiction": d["jurisdiction"],
            "year": local_year(at),
            "beneficiary_key": d["beneficiary_key"],
            "channel": d["channel"],
            "outcome": d["outcome"],
            "settled_at": at,
        }

    def _partner_use(self, event: RecordedEvent) -> None:
        d = event.data
        self.pending.uses[event.event_id] = {
            "event_id": event.event_id,
            "direction": "outbound",
            "partner": d["region"],
            "item_id": d["item_id"],
            "jurisdiction": d["issuer_region"],
            "occurred_at": parse_time(d.get("occurred_at")) or event.recorded_at,
        }


# -- set-based writes ------------------------------------------------------------------------------
# On PostgreSQL a batch goes in as one INSERT ... SELECT FROM unnest(arrays) (one fixed statement,
# no per-row SQL); SQLite (embedded mode, small volumes) takes multi-row VALUES.


def _by_column(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {name: [r[name] for r in rows] for name in rows[0]}


async def _write_rows(conn: AsyncConnection, table: Any, rows: list[dict[str, Any]], keys: list[str]) -> None:
    for part in chunks(rows, 150):
        await conn.execute(upsert_rows(conn, table, part, keys))


async def _write_activity(conn: AsyncConnection, activity: dict[str, datetime]) -> None:
    rows = [{"venue_id": v, "last_verified_at": at} for v, at in sorted(activity.items())]
    if rows and is_postgres(conn):
        conflict = (
            "ON CONFLICT (venue_id) DO UPDATE SET last_verified_at = "
            "GREATEST(rpt_venue_activity.last_verified_at, EXCLUDED.last_verified_at)"
        )
        await insert_columns(conn, t.venue_activity, _by_column(rows), on_conflict=conflict)
        return
    for chunk in chunks(rows):
        statement = insert_for(conn, t.venue_activity).values(list(chunk))
        latest = greatest(conn, t.venue_activity.c.last_verified_at, statement.excluded.last_verified_at)
        await conn.execute(
            statement.on_conflict_do_update(index_elements=["venue_id"], set_={"last_verified_at": latest})
        )


async def _write_firsts(conn: AsyncConnection, firsts: dict[tuple[str, str], dict[str, datetime]]) -> None:
    kinds = ("card_account_at", "ecard_at", "agreement_ecard_at")
    rows = [
        {"item_id": item, "jurisdiction": jur, **{k: found.get(k) for k in kinds}}
        for (item, jur), found in sorted(firsts.items())
    ]
    if rows and is_postgres(conn):
        least = ", ".join(
            f"{k} = LEAST(rpt_payment_firsts.{k}, EXCLUDED.{k})"
            for k in kinds  # LEAST ignores NULLs
        )
        conflict = f"ON CONFLICT (item_id, jurisdiction) DO UPDATE SET {least}"
        await insert_columns(conn, t.payment_firsts, _by_column(rows), on_conflict=conflict)
        return
    for chunk in chunks(rows):
        statement = insert_for(conn, t.payment_firsts).values(list(chunk))
        earliest = {k: least_known(conn, t.payment_firsts.c[k], statement.excluded[k]) for k in kinds}
        await conn.execute(
            statement.on_conflict_do_update(index_elements=["item_id", "jurisdiction"], set_=earliest)
        )


async def _write_payees(conn: AsyncConnection, found: dict[tuple[str, str], dict[str, Any]]) -> None:
    rows = [found[k] for k in sorted(found)]
    if rows and is_postgres(conn):
        updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in PAYEE_UPDATES)
        conflict = (
            f"ON CONFLICT (batch_id, reference_id) DO UPDATE SET {updates} "
            "WHERE EXCLUDED.settled_at >= rpt_payees.settled_at"
        )
        await insert_columns(conn, t.payees, _by_column(rows), on_conflict=conflict)
        return
    for chunk in chunks(rows):
        statement = insert_for(conn, t.payees).values(list(chunk))
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=["batch_id", "reference_id"],
                set_={c: statement.excluded[c] for c in PAYEE_UPDATES},
                where=statement.excluded.settled_at >= t.payees.c.settled_at,
            )
        )


async def _write_uses(conn: AsyncConnection, uses: dict[str, dict[str, Any]]) -> None:
    rows = [uses[k] for k in sorted(uses)]
    if rows:
        conflict = "ON CONFLICT DO NOTHING"
        await insert_columns(conn, t.cross_region_uses, _by_column(rows), on_conflict=conflict)

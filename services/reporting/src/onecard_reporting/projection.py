"""The depth projection: catalogue, identity, payments, disbursement and partner events into facts.

Catalogue events (few) are applied as they come; the high-volume card-use events are collected
and written per fetched batch with set-based upserts (`flush`), inside the runner's transaction.
Every write is idempotent by its natural key (max / min / latest / insert-or-ignore), so an event
delivered twice changes nothing even without the runner's position check.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from onecard_events.model import RecordedEvent
from sqlalchemy import Table, delete, func, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from . import tables as t
from .domain.levels import local_year, parse_time

log = logging.getLogger(__name__)
CARD_FORMS = ("physical", "electronic")
CHUNK = 2000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PAYEE_UPDATES = ("item_id", "jurisdiction", "year", "beneficiary_key", "channel", "outcome", "settled_at")


@dataclass
class Pending:
    """Facts collected from one batch, keyed so that the batch itself is already deduplicated."""

    activity: dict[str, datetime] = field(default_factory=dict)
    firsts: dict[tuple[str, str], dict[str, datetime]] = field(default_factory=dict)
    payees: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    uses: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.activity or self.firsts or self.payees or self.uses)


def _insert(conn: AsyncConnection, table: Table) -> Any:
    return (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(table)


def _greatest(conn: AsyncConnection, a: Any, b: Any) -> ColumnElement[Any]:
    return func.greatest(a, b) if conn.dialect.name == "postgresql" else func.max(a, b)


def _least_known(conn: AsyncConnection, a: Any, b: Any) -> ColumnElement[Any]:
    """The earlier of two nullable times."""
    x, y = func.coalesce(a, b), func.coalesce(b, a)
    return func.least(x, y) if conn.dialect.name == "postgresql" else func.min(x, y)


async def _upsert(conn: AsyncConnection, table: Table, row: dict[str, Any], keys: Sequence[str]) -> None:
    statement = _insert(conn, table).values(**row)
    update_set = {k: statement.excluded[k] for k in row if k not in keys}
    await conn.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=update_set))


def _chunks(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [rows[i : i + CHUNK] for i in range(0, len(rows), CHUNK)]


class DepthProjection:
    name = "reporting_depth"

    def __init__(self) -> None:
        self.pending = Pending()

    # -- the runner's interface ----------------------------------------------------------------

    async def apply(self, conn: AsyncConnection, event: RecordedEvent) -> None:
        kind = event.event_type
        if kind.startswith("onecard.catalog."):
            await self._catalog(conn, kind.removeprefix("onecard.catalog."), event.data)
        elif kind == "onecard.identity.verification_recorded":
            self._verification(event)
        elif kind == "onecard.payments.payment_settled":
            self._payment(event.data)
        elif kind == "onecard.disbursement.payee_settled":
            self._payee(event.data)
        elif kind == "onecard.reporting.partner_card_used":
            self._partner_use(event)

    async def flush(self, conn: AsyncConnection) -> None:
        pending, self.pending = self.pending, Pending()
        if pending:
            await _write_activity(conn, pending.activity)
            await _write_firsts(conn, pending.firsts)
            await _write_payees(conn, pending.payees)
            await _write_uses(conn, pending.uses)

    def discard(self) -> None:
        self.pending = Pending()

    async def reset(self, conn: AsyncConnection) -> None:
        self.discard()
        for table in t.ALL:
            await conn.execute(delete(table))

    # -- catalogue -----------------------------------------------------------------------------

    async def _catalog(self, conn: AsyncConnection, kind: str, d: dict[str, Any]) -> None:
        match kind:
            case "item_published":
                item = d["item"]
                await self._version(conn, item["item_id"], d, False, item)
            case "item_retired":
                await self._version(conn, d["item_id"], d, True, {})
            case "jurisdiction_added":
                row = {"code": d["code"], "name": d["name"], "kind": d["kind"]}
                await _upsert(conn, t.jurisdictions, row, ["code"])
            case "venue_registered":
                row = {"venue_id": d["venue_id"], "jurisdiction": d["jurisdiction"], "item_id": d["item_id"]}
                await _upsert(conn, t.venues, row, ["venue_id"])
            case "terminal_deployed":
                forms = set(d.get("card_forms") or ())
                row = {
                    "venue_id": d["venue_id"],
                    "terminal_id": d["terminal_id"],
                    "physical": "physical" in forms,
                    "electronic": "electronic" in forms,
                    "active": True,
                }
                await _upsert(conn, t.terminals, row, ["venue_id", "terminal_id"])
            case "terminal_decommissioned":
                await conn.execute(
                    update(t.terminals)
                    .where(
                        t.terminals.c.venue_id == d["venue_id"], t.terminals.c.terminal_id == d["terminal_id"]
                    )
                    .values(active=False)
                )
            case "merchant_registered":
                await self._merchant(conn, d)
            case "merchant_joined_agreement" | "merchant_left_agreement":
                await conn.execute(
                    update(t.merchants)
                    .where(t.merchants.c.merchant_id == d["merchant_id"])
                    .values(agreement=kind == "merchant_joined_agreement")
                )

    async def _version(
        self, conn: AsyncConnection, item_id: str, d: dict[str, Any], retired: bool, item: dict[str, Any]
    ) -> None:
        valid_from = parse_time(d.get("valid_from")) or EPOCH
        row = {
            "item_id": item_id,
            "version": int(d["version"]),
            "valid_from": valid_from,
            "retired": retired,
            "item": item,
        }
        await _upsert(conn, t.item_versions, row, ["item_id", "version"])

    async def _merchant(self, conn: AsyncConnection, d: dict[str, Any]) -> None:
        statement = _insert(conn, t.merchants).values(
            merchant_id=d["merchant_id"],
            jurisdiction=d["jurisdiction"],
            item_id=d["item_id"],
            agreement=False,
        )
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=["merchant_id"],
                set_={"jurisdiction": statement.excluded.jurisdiction, "item_id": statement.excluded.item_id},
            )
        )

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


async def _pg_unnest(
    conn: AsyncConnection,
    table: Table,
    columns: Sequence[tuple[str, str]],
    rows: list[dict[str, Any]],
    conflict: str,
) -> None:
    arrays = ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in columns)
    names = ", ".join(name for name, _ in columns)
    # Built only from this module's constant table and column names; the values are bound parameters.
    statement = text(f"INSERT INTO {table.name} ({names}) SELECT * FROM unnest({arrays}) {conflict}")  # noqa: S608
    await conn.execute(statement, {name: [r[name] for r in rows] for name, _ in columns})


def _postgres(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


async def _write_activity(conn: AsyncConnection, activity: dict[str, datetime]) -> None:
    rows = [{"venue_id": v, "last_verified_at": at} for v, at in sorted(activity.items())]
    if rows and _postgres(conn):
        conflict = (
            "ON CONFLICT (venue_id) DO UPDATE SET last_verified_at = "
            "GREATEST(rpt_venue_activity.last_verified_at, EXCLUDED.last_verified_at)"
        )
        await _pg_unnest(
            conn,
            t.venue_activity,
            [("venue_id", "text"), ("last_verified_at", "timestamptz")],
            rows,
            conflict,
        )
        return
    for chunk in _chunks(rows):
        statement = _insert(conn, t.venue_activity).values(chunk)
        latest = _greatest(conn, t.venue_activity.c.last_verified_at, statement.excluded.last_verified_at)
        await conn.execute(
            statement.on_conflict_do_update(index_elements=["venue_id"], set_={"last_verified_at": latest})
        )


async def _write_firsts(conn: AsyncConnection, firsts: dict[tuple[str, str], dict[str, datetime]]) -> None:
    kinds = ("card_account_at", "ecard_at", "agreement_ecard_at")
    rows = [
        {"item_id": item, "jurisdiction": jur, **{k: found.get(k) for k in kinds}}
        for (item, jur), found in sorted(firsts.items())
    ]
    if rows and _postgres(conn):
        least = ", ".join(
            f"{k} = LEAST(rpt_payment_firsts.{k}, EXCLUDED.{k})"
            for k in kinds  # LEAST ignores NULLs
        )
        columns = [("item_id", "text"), ("jurisdiction", "text"), *[(k, "timestamptz") for k in kinds]]
        await _pg_unnest(
            conn,
            t.payment_firsts,
            columns,
            rows,
            f"ON CONFLICT (item_id, jurisdiction) DO UPDATE SET {least}",
        )
        return
    for chunk in _chunks(rows):
        statement = _insert(conn, t.payment_firsts).values(chunk)
        earliest = {k: _least_known(conn, t.payment_firsts.c[k], statement.excluded[k]) for k in kinds}
        await conn.execute(
            statement.on_conflict_do_update(index_elements=["item_id", "jurisdiction"], set_=earliest)
        )


async def _write_payees(conn: AsyncConnection, found: dict[tuple[str, str], dict[str, Any]]) -> None:
    rows = [found[k] for k in sorted(found)]
    if rows and _postgres(conn):
        columns = [
            ("batch_id", "text"),
            ("reference_id", "text"),
            ("item_id", "text"),
            ("jurisdiction", "text"),
            ("year", "int"),
            ("beneficiary_key", "text"),
            ("channel", "text"),
            ("outcome", "text"),
            ("settled_at", "timestamptz"),
        ]
        updates = ", ".join(f"{name} = EXCLUDED.{name}" for name, _ in columns[2:])
        conflict = (
            f"ON CONFLICT (batch_id, reference_id) DO UPDATE SET {updates} "
            "WHERE EXCLUDED.settled_at >= rpt_payees.settled_at"
        )
        await _pg_unnest(conn, t.payees, columns, rows, conflict)
        return
    for chunk in _chunks(rows):
        statement = _insert(conn, t.payees).values(chunk)
        await conn.execute(
            statement.on_conflict_do_update(
                index_elements=["batch_id", "reference_id"],
                set_={c: statement.excluded[c] for c in PAYEE_UPDATES},
                where=statement.excluded.settled_at >= t.payees.c.settled_at,
            )
        )


async def _write_uses(conn: AsyncConnection, uses: dict[str, dict[str, Any]]) -> None:
    rows = [uses[k] for k in sorted(uses)]
    if rows and _postgres(conn):
        columns = [
            ("event_id", "text"),
            ("direction", "text"),
            ("partner", "text"),
            ("item_id", "text"),
            ("jurisdiction", "text"),
            ("occurred_at", "timestamptz"),
        ]
        await _pg_unnest(conn, t.cross_region_uses, columns, rows, "ON CONFLICT DO NOTHING")
        return
    for chunk in _chunks(rows):
        await conn.execute(_insert(conn, t.cross_region_uses).values(chunk).on_conflict_do_nothing())

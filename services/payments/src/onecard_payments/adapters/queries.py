"""Read-only queries on payments' read tables (each on its own connection, no transaction)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from onecard_contracts.catalog_view import MerchantView, find_merchant
from onecard_events.database import Database
from onecard_events.sql import any_of
from onecard_service.idempotency import StoredResponse, lookup
from sqlalchemy import Select, select
from sqlalchemy.engine import Row, RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from .tables import bills, payments, reconciliation, refunds

BATCH = 100
"""Rows a recovery round takes at most."""


async def _first(db: Database, query: Select[Any]) -> Row[Any] | None:
    async with db.reads.connect() as conn:
        return await _first_in(conn, query)


async def _first_in(conn: AsyncConnection, query: Select[Any]) -> Row[Any] | None:
    row: Row[Any] | None = (await conn.execute(query)).first()
    return row


async def _all(db: Database, query: Select[Any]) -> Sequence[Row[Any]]:
    async with db.reads.connect() as conn:
        rows: Sequence[Row[Any]] = (await conn.execute(query)).all()
        return rows


async def _mappings(db: Database, query: Select[Any]) -> list[dict[str, Any]]:
    async with db.reads.connect() as conn:
        return [dict(r) for r in (await conn.execute(query)).mappings()]


async def stored_response(db: Database, scope: str, key: str, digest: str) -> StoredResponse | None:
    """The first response to a request with this Idempotency-Key (409 when the body changed)."""
    async with db.reads.connect() as conn:
        return await lookup(conn, scope, key, digest)


async def merchant(db: Database, merchant_id: str) -> MerchantView | None:
    """The merchant as payments' catalogue view knows it."""
    async with db.reads.connect() as conn:
        return await find_merchant(conn, merchant_id)


async def bill(db: Database, bill_id: str) -> Row[Any] | None:
    return await _first(db, select(bills).where(bills.c.bill_id == bill_id))


async def payment(db: Database, payment_id: str) -> Row[Any] | None:
    return await _first(db, _payment(payment_id))


async def payment_in(conn: AsyncConnection, payment_id: str) -> Row[Any] | None:
    """The payment's row as the open transaction sees it."""
    return await _first_in(conn, _payment(payment_id))


async def payments_in(conn: AsyncConnection, payment_ids: Sequence[str]) -> dict[str, Row[Any]]:
    """The payments' rows as the open transaction sees them, by id."""
    if not payment_ids:
        return {}
    rows = await conn.execute(select(payments).where(any_of(conn, payments.c.payment_id, payment_ids)))
    return {row.payment_id: row for row in rows}


def _payment(payment_id: str) -> Select[Any]:
    return select(payments).where(payments.c.payment_id == payment_id)


async def refunds_of(db: Database, payment_id: str) -> list[dict[str, Any]]:
    query = (
        select(refunds.c.refund_id, refunds.c.amount_fen, refunds.c.refunded_at)
        .where(refunds.c.payment_id == payment_id)
        .order_by(refunds.c.refunded_at)
    )
    return await _mappings(db, query)


async def attempts_of(db: Database, bill_id: str) -> list[dict[str, Any]]:
    query = (
        select(payments.c.payment_id, payments.c.method, payments.c.status, payments.c.reason)
        .where(payments.c.bill_id == bill_id)
        .order_by(payments.c.initiated_ms)
    )
    return await _mappings(db, query)


async def day_totals(db: Database, day: str, merchant_ids: Sequence[str] | None) -> Sequence[RowMapping]:
    """Reconciliation rows of `day`, of every merchant (None) or of the ones named."""
    query = select(reconciliation).where(reconciliation.c.day == day).order_by(reconciliation.c.merchant_id)
    if merchant_ids is not None:
        query = query.where(reconciliation.c.merchant_id.in_(list(merchant_ids)))
    async with db.reads.connect() as conn:
        return (await conn.execute(query)).mappings().all()


async def initiated_before(db: Database, cutoff_ms: int) -> Sequence[Row[Any]]:
    """Payments still awaiting their outcome that started before `cutoff_ms`, oldest first."""
    query = (
        select(payments)
        .where(payments.c.status == "initiated", payments.c.initiated_ms <= cutoff_ms)
        .order_by(payments.c.initiated_ms)
        .limit(BATCH)
    )
    return await _all(db, query)


async def pending_refunds(db: Database) -> Sequence[Row[Any]]:
    """Refunds whose credit the bank has not confirmed, with their payment's columns."""
    query = (
        select(refunds.c.refund_id, refunds.c.amount_fen.label("refund_fen"), payments)
        .join(payments, payments.c.payment_id == refunds.c.payment_id)
        .where(refunds.c.bank_status == "pending")
        .limit(BATCH)
    )
    return await _all(db, query)

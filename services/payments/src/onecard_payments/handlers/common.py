"""Pieces every payments use case shares: stream names, replies, scope checks, idempotency."""

from __future__ import annotations

import uuid
from typing import Any

from onecard_events.model import utcnow
from onecard_service.auth import Principal
from onecard_service.idempotency import lookup
from onecard_service.problems import Problem, not_found
from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from ..context import PaymentsContext
from ..tables import bills, payments

Reply = tuple[int, dict[str, Any]]


def bill_stream(bill_id: str) -> str:
    return f"bill-{bill_id}"


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def now_rfc3339() -> str:
    return utcnow().isoformat().replace("+00:00", "Z")


def idem_scope(caller: Principal) -> str:
    # Keys belong to the client that chose them: two venues may pick the same key independently.
    return f"payments|{caller.client_id}"


def authorise(caller: Principal, merchant_id: str) -> None:
    if not caller.may_use_merchant(merchant_id):
        raise Problem(403, f"merchant {merchant_id!r} is outside this client's scope")


async def replay(ctx: PaymentsContext, scope: str, key: str | None, digest: str) -> Reply | None:
    """The stored first response for a retried request (409 when the body changed)."""
    if key is None:
        return None
    async with ctx.db.engine.connect() as conn:
        stored = await lookup(conn, scope, key, digest)
    return (stored.status_code, stored.body) if stored else None


async def bill_row(ctx: PaymentsContext, bill_id: str) -> Row[Any]:
    async with ctx.db.engine.connect() as conn:
        row = (await conn.execute(select(bills).where(bills.c.bill_id == bill_id))).first()
    if row is None:
        raise not_found("bill", bill_id)
    return row


async def payment_row_in(conn: AsyncConnection, payment_id: str) -> Row[Any] | None:
    return (await conn.execute(select(payments).where(payments.c.payment_id == payment_id))).first()


async def payment_row(ctx: PaymentsContext, payment_id: str) -> Row[Any]:
    async with ctx.db.engine.connect() as conn:
        row = await payment_row_in(conn, payment_id)
    if row is None:
        raise not_found("payment", payment_id)
    return row


def payment_reply(payment_id: str, bill_id: str, status: str, reason: str | None) -> dict[str, Any]:
    return {"payment_id": payment_id, "bill_id": bill_id, "status": status, "reason": reason}

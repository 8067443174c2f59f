"""Pieces every payments use case shares: stream names, replies, scope checks, idempotency."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from onecard_service import idempotency
from onecard_service.auth import Principal
from onecard_service.problems import Problem, not_found
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from ..adapters import queries
from .context import PaymentsContext

Reply = tuple[int, dict[str, Any]]


def bill_stream(bill_id: str) -> str:
    return f"bill-{bill_id}"


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def authorise(caller: Principal, merchant_id: str) -> None:
    if not caller.may_use_merchant(merchant_id):
        raise Problem(403, f"merchant {merchant_id!r} is outside this client's scope")


@dataclass(frozen=True)
class Idempotency:
    """A request's Idempotency-Key, the one way payments handles it.

    `replay` answers a retry with the stored first response (409 when the body changed). The
    handler records its own response in the unit of work that makes the effect: `remember` for
    a one-transaction use case, or `reserve` then `complete` for a payment, which commits its
    start before calling the bank and its outcome after (perhaps in the recovery worker).
    """

    scope: str
    key: str | None
    digest: str

    @classmethod
    def of(cls, caller: Principal, key: str | None, request: dict[str, Any]) -> Idempotency:
        """`request` identifies the operation and its body (hashed: the table keeps no body)."""
        # Keys belong to the client that chose them: two venues may pick the same key independently.
        return cls(f"payments|{caller.client_id}", key, idempotency.request_hash(request))

    @property
    def ref(self) -> tuple[str, str] | None:
        """(scope, key) to complete later, or None without a key."""
        return (self.scope, self.key) if self.key is not None else None

    async def replay(self, ctx: PaymentsContext) -> Reply | None:
        if self.key is None:
            return None
        stored = await queries.stored_response(ctx.db, self.scope, self.key, self.digest)
        return (stored.status_code, stored.body) if stored else None

    async def remember(self, conn: AsyncConnection, reply: Reply) -> None:
        if self.key is not None:
            await idempotency.remember(conn, self.scope, self.key, self.digest, *reply)

    async def reserve(self, conn: AsyncConnection) -> None:
        if self.key is not None:
            await idempotency.reserve(conn, self.scope, self.key, self.digest)


async def complete(conn: AsyncConnection, ref: tuple[str, str] | None, reply: Reply) -> None:
    """Store the response of a reserved key (`Idempotency.reserve`), if the request had one."""
    if ref is not None:
        await idempotency.complete(conn, *ref, *reply)


async def bill_row(ctx: PaymentsContext, bill_id: str) -> Row[Any]:
    row = await queries.bill(ctx.db, bill_id)
    if row is None:
        raise not_found("bill", bill_id)
    return row


async def payment_row(ctx: PaymentsContext, payment_id: str) -> Row[Any]:
    row = await queries.payment(ctx.db, payment_id)
    if row is None:
        raise not_found("payment", payment_id)
    return row


def payment_reply(payment_id: str, bill_id: str, status: str, reason: str | None) -> dict[str, Any]:
    return {"payment_id": payment_id, "bill_id": bill_id, "status": status, "reason": reason}

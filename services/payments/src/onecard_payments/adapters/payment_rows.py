"""Writes to payments' read tables, always on the unit of work's connection: a row changes in the
transaction that appends the event it reflects, never apart from it."""

from __future__ import annotations

import time

from onecard_events.sql import insert_for
from onecard_events.times import now_rfc3339
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.events import BillOpened, PaymentDeclined, PaymentInitiated, PaymentRefunded, PaymentSettled
from ..domain.reconciliation import business_day
from .tables import bills, ecard_nonces, payments, reconciliation, refunds


async def insert_bill(conn: AsyncConnection, e: BillOpened) -> None:
    await conn.execute(
        bills.insert().values(
            bill_id=e.bill_id,
            merchant_id=e.merchant_id,
            bill_ref=e.bill_ref,
            amount_fen=e.amount_fen,
            status="open",
            opened_at=e.opened_at,
        )
    )


async def insert_payment(
    conn: AsyncConnection,
    e: PaymentInitiated,
    merchant_id: str,
    account_ref: str | None,
    idem: tuple[str, str] | None,
) -> None:
    """`idem` is the request's (scope, Idempotency-Key): a recovery completes it, not the request."""
    await conn.execute(
        payments.insert().values(
            payment_id=e.payment_id,
            bill_id=e.bill_id,
            merchant_id=merchant_id,
            method=e.method,
            amount_fen=e.amount_fen,
            status="initiated",
            reason=None,
            refunded_fen=0,
            bank_ref=e.bank_ref,
            account_ref=account_ref,
            cross_region=e.cross_region,
            agreement_merchant=e.agreement_merchant,
            idem_scope=idem[0] if idem else None,
            idem_key=idem[1] if idem else None,
            initiated_ms=int(time.time() * 1000),
            initiated_at=e.initiated_at,
            finished_at=None,
        )
    )


async def record_outcome(conn: AsyncConnection, e: PaymentSettled | PaymentDeclined) -> None:
    if isinstance(e, PaymentSettled):
        status, reason, at = "settled", None, e.settled_at
        await conn.execute(update(bills).where(bills.c.bill_id == e.bill_id).values(status="settled"))
        await _add_to_day(conn, business_day(at), e.merchant_id, count=1, settled=e.amount_fen, refunded=0)
    else:
        status, reason, at = "declined", e.reason, e.declined_at
    await conn.execute(
        update(payments)
        .where(payments.c.payment_id == e.payment_id)
        .values(status=status, reason=reason, finished_at=at)
    )


async def record_refund(conn: AsyncConnection, e: PaymentRefunded, bank_status: str) -> None:
    await conn.execute(
        refunds.insert().values(
            refund_id=e.refund_id,
            payment_id=e.payment_id,
            amount_fen=e.amount_fen,
            bank_status=bank_status,
            refunded_at=e.refunded_at,
        )
    )
    await conn.execute(
        update(payments)
        .where(payments.c.payment_id == e.payment_id)
        .values(refunded_fen=payments.c.refunded_fen + e.amount_fen)
    )
    await _add_to_day(
        conn, business_day(e.refunded_at), e.merchant_id, count=0, settled=0, refunded=e.amount_fen
    )


async def set_refund_bank_status(conn: AsyncConnection, refund_id: str, bank_status: str) -> None:
    """pending -> done (the bank credited the card account) or failed (it refused: an operator's case)."""
    changed = update(refunds).where(refunds.c.refund_id == refund_id)
    await conn.execute(changed.values(bank_status=bank_status))


async def consume_nonce(conn: AsyncConnection, nonce: str) -> bool:
    """Record an e-card code's nonce as used; False when it was used before (a replayed code).
    The primary key is what makes a code usable once, in the payment's own transaction."""
    statement = insert_for(conn, ecard_nonces).values(nonce=nonce, consumed_at=now_rfc3339())
    result = await conn.execute(statement.on_conflict_do_nothing(index_elements=["nonce"]))
    return bool(result.rowcount)


async def purge_nonces(conn: AsyncConnection, before: str) -> int:
    """Forget the code uses recorded before `before` (RFC 3339): those codes expired long ago."""
    result = await conn.execute(delete(ecard_nonces).where(ecard_nonces.c.consumed_at < before))
    return int(result.rowcount or 0)


async def _add_to_day(
    conn: AsyncConnection, day: str, merchant_id: str, *, count: int, settled: int, refunded: int
) -> None:
    # An upsert that adds, so concurrent settlements of one merchant and day never lose a count.
    statement = insert_for(conn, reconciliation).values(
        day=day, merchant_id=merchant_id, settled_count=count, settled_fen=settled, refunded_fen=refunded
    )
    t = reconciliation.c
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=["day", "merchant_id"],
            set_={
                "settled_count": t.settled_count + statement.excluded.settled_count,
                "settled_fen": t.settled_fen + statement.excluded.settled_fen,
                "refunded_fen": t.refunded_fen + statement.excluded.refunded_fen,
            },
        )
    )

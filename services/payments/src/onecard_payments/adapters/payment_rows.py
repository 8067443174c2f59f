"""Writes to payments' read tables, always on the unit of work's connection: a row changes in the
transaction that appends the event it reflects, never apart from it."""

from __future__ import annotations

import time
from collections.abc import Sequence

from onecard_events.sql import insert_for
from onecard_events.times import now_rfc3339
from sqlalchemy import bindparam, delete, update
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
    await insert_payments(conn, [(e, merchant_id, account_ref, idem)])


Started = tuple[PaymentInitiated, str, str | None, tuple[str, str] | None]
"""A payment's start as `insert_payment` takes it: event, merchant, account, (scope, key)."""


async def insert_payments(conn: AsyncConnection, started: Sequence[Started]) -> None:
    """`insert_payment` of several payments, as one statement."""
    now_ms = int(time.time() * 1000)
    rows = [
        {
            "payment_id": e.payment_id,
            "bill_id": e.bill_id,
            "merchant_id": merchant_id,
            "method": e.method,
            "amount_fen": e.amount_fen,
            "status": "initiated",
            "reason": None,
            "refunded_fen": 0,
            "bank_ref": e.bank_ref,
            "account_ref": account_ref,
            "cross_region": e.cross_region,
            "agreement_merchant": e.agreement_merchant,
            "idem_scope": idem[0] if idem else None,
            "idem_key": idem[1] if idem else None,
            "initiated_ms": now_ms,
            "initiated_at": e.initiated_at,
            "finished_at": None,
        }
        for e, merchant_id, account_ref, idem in started
    ]
    if rows:
        await conn.execute(payments.insert(), rows)


async def record_outcome(conn: AsyncConnection, e: PaymentSettled | PaymentDeclined) -> None:
    await record_outcomes(conn, [e])


async def record_outcomes(
    conn: AsyncConnection, outcomes: Sequence[PaymentSettled | PaymentDeclined]
) -> None:
    """The outcomes' rows: each payment's status, each settled bill, and the day's totals per
    merchant, added once per merchant and day whatever the number of payments (last, and in key
    order: a totals row is the one row concurrent writers share, held only until the commit)."""
    if not outcomes:
        return
    finished = []
    totals: dict[tuple[str, str], list[int]] = {}
    for e in outcomes:
        if isinstance(e, PaymentSettled):
            status, reason, at = "settled", None, e.settled_at
            total = totals.setdefault((business_day(at), e.merchant_id), [0, 0])
            total[0] += 1
            total[1] += e.amount_fen
        else:
            status, reason, at = "declined", e.reason, e.declined_at
        finished.append({"pid": e.payment_id, "st": status, "why": reason, "at": at})
    await conn.execute(
        update(payments)
        .where(payments.c.payment_id == bindparam("pid"))
        .values(status=bindparam("st"), reason=bindparam("why"), finished_at=bindparam("at")),
        finished,
    )
    settled = [{"bid": e.bill_id} for e in outcomes if isinstance(e, PaymentSettled)]
    if settled:
        await conn.execute(
            update(bills).where(bills.c.bill_id == bindparam("bid")).values(status="settled"), settled
        )
    for (day, merchant_id), (count, fen) in sorted(totals.items()):
        await _add_to_day(conn, day, merchant_id, count=count, settled=fen, refunded=0)


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
    return nonce in await consume_nonces(conn, [nonce])


async def consume_nonces(conn: AsyncConnection, nonces: Sequence[str]) -> set[str]:
    """`consume_nonce` of several nonces (distinct) in one statement: those that were new."""
    if not nonces:
        return set()
    at = now_rfc3339()
    statement = (
        insert_for(conn, ecard_nonces)
        .values([{"nonce": n, "consumed_at": at} for n in nonces])
        .on_conflict_do_nothing(index_elements=["nonce"])
        .returning(ecard_nonces.c.nonce)
    )
    return set((await conn.execute(statement)).scalars())


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

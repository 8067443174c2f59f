"""Opening a bill at a merchant of the catalogue."""

from __future__ import annotations

from onecard_events.times import now_rfc3339
from onecard_service.auth import Principal
from onecard_service.problems import conflict, invalid
from sqlalchemy.exc import IntegrityError

from ..adapters import payment_rows, queries
from ..domain.bill import Bill
from ..domain.commands import OpenBill
from .common import Idempotency, Reply, authorise, bill_stream, new_id
from .context import PaymentsContext


async def open_bill(ctx: PaymentsContext, caller: Principal, cmd: OpenBill, key: str | None) -> Reply:
    authorise(caller, cmd.merchant_id)
    idem = Idempotency.of(caller, key, {"op": "open_bill", "body": cmd.__dict__})
    if stored := await idem.replay(ctx):
        return stored
    merchant = await ctx.views.read("catalog", lambda: queries.merchant(ctx.db, cmd.merchant_id))
    if merchant is None:
        raise invalid("merchant_id", "no such merchant in the catalogue")
    bill = Bill(new_id("bill"))
    opened = bill.open(
        merchant.merchant_id,
        merchant.item_id,
        merchant.jurisdiction,
        cmd.bill_ref,
        cmd.amount_fen,
        cmd.description,
        now_rfc3339(),
    )
    reply: Reply = (
        201,
        {
            "bill_id": bill.bill_id,
            "status": "open",
            "merchant_id": opened.merchant_id,
            "bill_ref": opened.bill_ref,
            "amount_fen": opened.amount_fen,
            "item_id": opened.item_id,
        },
    )
    try:
        async with ctx.store.unit_of_work() as uow:
            uow.add(bill_stream(bill.bill_id), bill)
            await payment_rows.insert_bill(uow.connection, opened)
            await idem.remember(uow.connection, reply)
            await uow.save()
    except IntegrityError:
        # Either the merchant's bill_ref is taken or a concurrent retry with this key won.
        raise conflict(
            f"bill_ref {cmd.bill_ref!r} is already used by this merchant, or the request is a duplicate"
        ) from None
    return reply

"""Opening a bill at a merchant of the catalogue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from onecard_events.times import now_rfc3339
from onecard_service.auth import Principal
from onecard_service.problems import conflict, invalid
from sqlalchemy.exc import IntegrityError

from ..adapters import payment_rows, queries
from ..domain.bill import Bill
from ..domain.commands import OpenBill
from ..domain.events import BillOpened
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
    return await ctx.writes.bills.submit(Opening(bill, opened, idem, reply))


@dataclass(frozen=True)
class Opening:
    """A bill to open, as queued: its aggregate with `BillOpened` pending, and its reply."""

    bill: Bill
    opened: BillOpened
    idem: Idempotency
    reply: Reply


async def write_openings(ctx: PaymentsContext, batch: Sequence[Opening]) -> list[Reply | Exception]:
    """Open the batch's bills in one transaction; if one of them breaks a unique rule (its
    merchant's bill_ref taken, or its key), each alone, so only that one is refused."""
    try:
        return list(await _open_together(ctx, batch))
    except IntegrityError:
        if len(batch) == 1:
            return [_duplicate(batch[0])]
    alone: list[Reply | Exception] = []
    for opening in batch:
        try:
            alone += await _open_together(ctx, [opening])
        except IntegrityError:
            alone.append(_duplicate(opening))
    return alone


async def _open_together(ctx: PaymentsContext, batch: Sequence[Opening]) -> list[Reply]:
    async with ctx.store.unit_of_work() as uow:
        for o in batch:
            uow.add(bill_stream(o.bill.bill_id), o.bill)
            await payment_rows.insert_bill(uow.connection, o.opened)
            await o.idem.remember(uow.connection, o.reply)
        await uow.save()
    return [o.reply for o in batch]


def _duplicate(opening: Opening) -> Exception:
    # Either the merchant's bill_ref is taken or a concurrent retry with this key won.
    return conflict(
        f"bill_ref {opening.opened.bill_ref!r} is already used by this merchant, "
        "or the request is a duplicate"
    )

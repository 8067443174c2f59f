"""Opening a bill at a merchant of the catalogue."""

from __future__ import annotations

from onecard_events.store import NO_STREAM
from onecard_service.auth import Principal
from onecard_service.catalog_view import find_merchant
from onecard_service.idempotency import remember, request_hash
from onecard_service.problems import conflict, invalid
from sqlalchemy.exc import IntegrityError

from .. import rows
from ..context import PaymentsContext
from ..domain.commands import OpenBill
from ..domain.model import PaymentRefused, open_bill
from .common import Reply, authorise, bill_stream, idem_scope, new_id, now_rfc3339, replay


async def open_bill_handler(ctx: PaymentsContext, caller: Principal, cmd: OpenBill, key: str | None) -> Reply:
    authorise(caller, cmd.merchant_id)
    scope, digest = idem_scope(caller), request_hash({"op": "open_bill", "body": cmd.__dict__})
    if stored := await replay(ctx, scope, key, digest):
        return stored
    async with ctx.db.engine.connect() as conn:
        merchant = await find_merchant(conn, cmd.merchant_id)
    if merchant is None:
        raise invalid("merchant_id", "no such merchant in the catalogue")
    bill_id = new_id("bill")
    try:
        event = open_bill(
            bill_id,
            merchant.merchant_id,
            merchant.item_id,
            merchant.jurisdiction,
            cmd.bill_ref,
            cmd.amount_fen,
            cmd.description,
            now_rfc3339(),
        )
    except PaymentRefused as refused:
        raise invalid(refused.field or "body", refused.detail) from None
    reply = {
        "bill_id": bill_id,
        "status": "open",
        "merchant_id": event.merchant_id,
        "bill_ref": event.bill_ref,
        "amount_fen": event.amount_fen,
        "item_id": event.item_id,
    }
    try:
        async with ctx.db.engine.begin() as conn:
            await ctx.store.append(conn, bill_stream(bill_id), [event], expected_version=NO_STREAM)
            await rows.insert_bill(conn, event)
            if key is not None:
                await remember(conn, scope, key, digest, 201, reply)
    except IntegrityError:
        # Either the merchant's bill_ref is taken or a concurrent retry with this key won.
        raise conflict(
            f"bill_ref {cmd.bill_ref!r} is already used by this merchant, or the request is a duplicate"
        ) from None
    return 201, reply

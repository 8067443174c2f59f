"""HTTP routes of the payments service: parse, authorise, call a handler, shape the response."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from onecard_service.auth import Principal, require
from onecard_service.idempotency import IdempotencyKey, check_key
from onecard_service.problems import invalid
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from ..domain.bill import MAX_AMOUNT_FEN
from ..domain.commands import OpenBill, PayByCard, PayByEcard, PayCommand, PayOther
from ..handlers import bills
from ..handlers.common import Reply
from ..handlers.context import PaymentsContext
from ..handlers.pay import pay_bill
from ..handlers.reads import get_bill, get_payment, reconcile
from ..handlers.refunds import refund_payment

# Strict integers: "100", 100.0 and true are refused rather than coerced into an amount of money.
Fen = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT_FEN, description="integer fen, 1 to 10^12")]
Caller = Annotated[Principal, Depends(require("admin", "operator", "merchant"))]
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BillIn(_Body):
    merchant_id: StrictStr = Field(min_length=1, max_length=100)
    bill_ref: StrictStr = Field(min_length=1, max_length=100)
    amount_fen: Fen
    description: StrictStr = Field("", max_length=500)


class CardIn(_Body):
    card_no: StrictStr = Field(pattern=r"^[0-9A-Za-z]{9}$")
    ssn: StrictStr = Field(pattern=r"^\d{17}[0-9Xx]$")
    name: StrictStr = Field(min_length=1, max_length=100)
    issuer_region: StrictStr = Field(pattern=r"^\d{6}$")


class CardAccountIn(_Body):
    method: Literal["card_account"]
    card: CardIn


class EcardIn(_Body):
    method: Literal["ecard"]
    qr: StrictStr = Field(min_length=1, max_length=4096)


class OtherIn(_Body):
    method: Literal["other"]


PaymentIn = Annotated[CardAccountIn | EcardIn | OtherIn, Field(discriminator="method")]


class RefundIn(_Body):
    amount_fen: Fen


async def _ctx(request: Request) -> PaymentsContext:
    ctx: PaymentsContext = request.app.state.payments
    return ctx


Ctx = Annotated[PaymentsContext, Depends(_ctx)]


def _json(reply: Reply) -> JSONResponse:
    return JSONResponse(reply[1], status_code=reply[0])


def _command(body: CardAccountIn | EcardIn | OtherIn) -> PayCommand:
    match body:
        case CardAccountIn(card=c):
            return PayByCard(c.card_no, c.ssn.upper(), c.name, c.issuer_region)
        case EcardIn(qr=qr):
            return PayByEcard(qr)
        case _:
            return PayOther()


router = APIRouter(prefix="/payments/v1")


@router.post("/bills", status_code=201)
async def open_bill(body: BillIn, caller: Caller, ctx: Ctx, key: IdempotencyKey = None) -> JSONResponse:
    cmd = OpenBill(body.merchant_id, body.bill_ref, body.amount_fen, body.description)
    return _json(await bills.open_bill(ctx, caller, cmd, check_key(key)))


@router.get("/bills/{bill_id}")
async def show_bill(bill_id: str, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    return await get_bill(ctx, caller, bill_id)


@router.post("/bills/{bill_id}/payments", status_code=201)
async def pay(
    bill_id: str, body: PaymentIn, caller: Caller, ctx: Ctx, key: IdempotencyKey = None
) -> JSONResponse:
    return _json(await pay_bill(ctx, caller, bill_id, _command(body), check_key(key)))


@router.get("/payments/{payment_id}")
async def show_payment(payment_id: str, caller: Caller, ctx: Ctx) -> dict[str, Any]:
    return await get_payment(ctx, caller, payment_id)


@router.post("/payments/{payment_id}/refunds", status_code=201)
async def refund(
    payment_id: str, body: RefundIn, caller: Caller, ctx: Ctx, key: IdempotencyKey = None
) -> JSONResponse:
    return _json(await refund_payment(ctx, caller, payment_id, body.amount_fen, check_key(key)))


@router.get("/reconciliation")
async def reconciliation(
    caller: Caller,
    ctx: Ctx,
    date: Annotated[str, Query(description="business day (Beijing time), YYYY-MM-DD", pattern=_DATE.pattern)],
    merchant_id: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    if not _DATE.match(date):
        raise invalid("date", "expected YYYY-MM-DD")
    return await reconcile(ctx, caller, date, merchant_id or None)

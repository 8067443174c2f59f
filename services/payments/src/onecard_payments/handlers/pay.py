"""Paying a bill: from the card account, by e-card bill pull, or recorded as paid otherwise.

Two transactions around the bank call. The first appends `payment_initiated` (with the bank
reference) at the bill's version, which is also what stops a second payment racing this one.
The bank is called only after that commit. The second transaction appends the outcome. A crash
in between leaves an initiated payment that `recovery` finishes by asking the bank.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

from onecard_events.model import DomainEvent
from onecard_events.store import ConcurrencyError
from onecard_service import idempotency
from onecard_service.auth import Principal
from onecard_service.catalog_view import MerchantView, find_merchant
from onecard_service.idempotency import request_hash
from onecard_service.privacy import ssn_is_valid
from onecard_service.problems import Problem, conflict, invalid
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from .. import rows
from ..context import PaymentsContext
from ..domain.commands import PayByCard, PayByEcard, PayCommand, PayOther
from ..domain.events import Method, PaymentDeclined, PaymentSettled
from ..domain.model import Bill, Payer, PaymentRefused, is_cross_region
from ..domain.ports import BankOutcome, BankResult, EcardRefusal
from . import bank
from .common import (
    Reply,
    authorise,
    bill_row,
    bill_stream,
    idem_scope,
    new_id,
    now_rfc3339,
    payment_reply,
    payment_row,
    payment_row_in,
    replay,
)


@dataclass(frozen=True)
class Attempt:
    """A payment about to start: who pays, from which account, or why it is refused up front."""

    method: Method
    payer: Payer
    account_ref: str | None
    agreement_merchant: bool
    refusal: str | None = None
    # An e-card code's nonce: consumed in the transaction that records the payment.
    nonce: str | None = None


@dataclass(frozen=True)
class Started:
    payment_id: str
    bill_id: str
    amount_fen: int
    reply: Reply | None  # set when the payment finished without the bank (refused, or "other")


async def pay_bill(
    ctx: PaymentsContext, caller: Principal, bill_id: str, cmd: PayCommand, key: str | None
) -> Reply:
    bill = await bill_row(ctx, bill_id)
    authorise(caller, bill.merchant_id)
    scope, digest = idem_scope(caller), request_hash({"op": f"pay:{bill_id}", "body": _fingerprint(ctx, cmd)})
    if stored := await replay(ctx, scope, key, digest):
        return stored
    async with ctx.db.engine.connect() as conn:
        merchant = await find_merchant(conn, bill.merchant_id)
    if merchant is None:
        raise Problem(409, f"merchant {bill.merchant_id!r} is no longer in the catalogue")
    attempt = await _prepare(ctx, cmd, merchant)
    started = await _start(ctx, bill_id, attempt, (scope, key, digest) if key else None)
    if started.reply is not None:
        return started.reply
    assert attempt.account_ref is not None
    result = await bank.debit(ctx, attempt.account_ref, started.amount_fen, started.payment_id)
    if result.outcome is BankOutcome.UNKNOWN:
        # Recorded as initiated: the recovery worker finishes it; a retry is told it is in progress.
        return 202, payment_reply(started.payment_id, bill_id, "pending", result.reason)
    return await finish(ctx, bill_id, started.payment_id, result)


def _fingerprint(ctx: PaymentsContext, cmd: PayCommand) -> dict[str, Any]:
    """What identifies the request body, with the card and code keyed-hashed: the idempotency
    table keeps request hashes, and a plain hash of an ssn is easy to reverse by enumeration."""
    match cmd:
        case PayByCard():
            card = f"{cmd.card_no}|{cmd.ssn}|{cmd.name}|{cmd.issuer_region}"
            return {"method": "card_account", "card": ctx.keys.keyed_hash(card, "idempotency")}
        case PayByEcard():
            return {"method": "ecard", "qr": ctx.keys.keyed_hash(cmd.qr, "idempotency")}
        case PayOther():
            return {"method": "other"}


async def _prepare(ctx: PaymentsContext, cmd: PayCommand, merchant: MerchantView) -> Attempt:
    agreement = merchant.agreement
    match cmd:
        case PayByCard():
            if not ssn_is_valid(cmd.ssn):
                return Attempt("card_account", Payer(), None, agreement, refusal="invalid_ssn")
            card = await ctx.cards.card_state(cmd.card_no, cmd.issuer_region)
            if card is not None and card.status in ("lost", "cancelled"):
                return Attempt("card_account", Payer(), None, agreement, refusal=f"card_{card.status}")
            payer = Payer(
                ctx.keys.keyed_hash(cmd.ssn, "holder"),
                cmd.issuer_region,
                is_cross_region(cmd.issuer_region, merchant.jurisdiction),
            )
            return Attempt("card_account", payer, ctx.keys.keyed_hash(cmd.card_no, "card-account"), agreement)
        case PayByEcard():
            if not agreement:
                raise invalid("method", "e-card bill pull is only available at an e-card agreement merchant")
            holder = await ctx.ecard.read(cmd.qr)
            if isinstance(holder, EcardRefusal):
                return Attempt("ecard", Payer(), None, agreement, refusal=holder.reason, nonce=holder.nonce)
            cross = is_cross_region(holder.issuer_region, merchant.jurisdiction)
            payer = Payer(holder.payer_key, holder.issuer_region, cross)
            return Attempt("ecard", payer, holder.account_ref, agreement, nonce=holder.nonce)
        case PayOther():
            return Attempt("other", Payer(), None, agreement)


async def _start(
    ctx: PaymentsContext, bill_id: str, attempt: Attempt, idem: tuple[str, str, str] | None
) -> Started:
    payment_id, at = new_id("pay"), now_rfc3339()
    try:
        async with ctx.db.engine.begin() as conn:
            if idem is not None:
                await idempotency.reserve(conn, *idem)
            if attempt.nonce is not None and not await ctx.ecard.consume(conn, attempt.nonce):
                # Used before (a replayed code): whatever else was wrong, this is the reason.
                attempt = replace(attempt, payer=Payer(), account_ref=None, refusal="qr_reused")
            needs_bank = attempt.refusal is None and attempt.account_ref is not None
            history, version = await ctx.store.load(conn, bill_stream(bill_id))
            bill = Bill.replay(bill_id, history)
            initiated = bill.initiate(
                payment_id,
                attempt.method,
                payment_id if needs_bank else None,
                attempt.payer,
                attempt.agreement_merchant,
                at,
            )
            bill.apply(initiated)
            outcome = None if needs_bank else _immediate_outcome(bill, payment_id, attempt, at)
            events: list[DomainEvent] = [initiated] if outcome is None else [initiated, outcome]
            await ctx.store.append(conn, bill_stream(bill_id), events, expected_version=version)
            await rows.insert_payment(
                conn, initiated, bill.merchant_id, attempt.account_ref, (idem[0], idem[1]) if idem else None
            )
            reply = await _record_outcome(conn, outcome, idem[:2] if idem else None) if outcome else None
    except PaymentRefused as refused:
        raise conflict(refused.detail, code=refused.code) from None
    except IntegrityError:
        raise conflict("a request with this Idempotency-Key is already being handled") from None
    if outcome is not None:
        ctx.metrics.count(attempt.method, _status_of(outcome))
    return Started(payment_id, bill_id, bill.amount_fen, reply)


def _immediate_outcome(
    bill: Bill, payment_id: str, attempt: Attempt, at: str
) -> PaymentSettled | PaymentDeclined:
    if attempt.refusal is not None:
        declined = bill.decline(payment_id, attempt.refusal, at)
        assert declined is not None
        return declined
    settled = bill.settle(payment_id, at)
    assert settled is not None
    return settled


def _status_of(event: PaymentSettled | PaymentDeclined) -> str:
    return "settled" if isinstance(event, PaymentSettled) else "declined"


async def _record_outcome(
    conn: AsyncConnection, event: PaymentSettled | PaymentDeclined, idem: tuple[str, str] | None
) -> Reply:
    await rows.record_outcome(conn, event)
    reason = event.reason if isinstance(event, PaymentDeclined) else None
    reply: Reply = (201, payment_reply(event.payment_id, event.bill_id, _status_of(event), reason))
    if idem is not None:
        await idempotency.complete(conn, idem[0], idem[1], *reply)
    return reply


async def finish(ctx: PaymentsContext, bill_id: str, payment_id: str, result: BankResult) -> Reply:
    """Append the bank's outcome at the bill's version; whoever finishes first (request or
    recovery) wins, and the other returns what was recorded."""
    for _ in range(10):
        try:
            async with ctx.db.engine.begin() as conn:
                history, version = await ctx.store.load(conn, bill_stream(bill_id))
                bill = Bill.replay(bill_id, history)
                at = now_rfc3339()
                outcome = (
                    bill.settle(payment_id, at)
                    if result.outcome is BankOutcome.APPROVED
                    else bill.decline(payment_id, result.reason or "declined_by_bank", at)
                )
                if outcome is None:
                    break
                await ctx.store.append(conn, bill_stream(bill_id), [outcome], expected_version=version)
                row = await payment_row_in(conn, payment_id)
                idem = (row.idem_scope, row.idem_key) if row is not None and row.idem_key else None
                reply = await _record_outcome(conn, outcome, idem)
            ctx.metrics.count(outcome.method, _status_of(outcome))
            return reply
        except ConcurrencyError:
            await asyncio.sleep(0.01)
    recorded = await payment_row(ctx, payment_id)
    return 201, payment_reply(payment_id, bill_id, recorded.status, recorded.reason)

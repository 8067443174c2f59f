"""Paying a bill: from the card account, by e-card bill pull, or recorded as paid otherwise.

Two units of work around the bank call. The first (`_start`) records `payment_initiated` (with
the bank reference) at the bill's version, which is also what stops a second payment racing this
one. The bank is called only after that commit. The second (`finish`) records the outcome. A
crash in between leaves an initiated payment that `recovery` finishes by asking the bank.
"""

from __future__ import annotations

from typing import Any

from onecard_contracts.catalog_view import MerchantView
from onecard_contracts.regions import is_cross_region
from onecard_events.times import now_rfc3339
from onecard_service.auth import Principal
from onecard_service.privacy import ssn_is_valid
from onecard_service.problems import Problem, invalid

from ..adapters import queries
from ..domain.bill import Payer
from ..domain.commands import PayByCard, PayByEcard, PayCommand, PayOther
from ..domain.ports import BankOutcome, BankResult, EcardHolder, EcardRefusal
from . import bank
from .common import (
    Idempotency,
    Reply,
    authorise,
    bill_row,
    new_id,
    payment_reply,
)
from .context import PaymentsContext
from .payment_batches import Attempt, Finish, Start, Started


async def pay_bill(
    ctx: PaymentsContext, caller: Principal, bill_id: str, cmd: PayCommand, key: str | None
) -> Reply:
    bill = await bill_row(ctx, bill_id)
    authorise(caller, bill.merchant_id)
    idem = Idempotency.of(caller, key, {"op": f"pay:{bill_id}", "body": _fingerprint(ctx, cmd)})
    if stored := await idem.replay(ctx):
        return stored
    by_ecard = isinstance(cmd, PayByEcard)
    merchant = await ctx.views.read(
        "catalog",
        lambda: queries.merchant(ctx.db, bill.merchant_id),
        ok=lambda m: m is not None and (m.agreement or not by_ecard),
    )
    if merchant is None:
        raise Problem(409, f"merchant {bill.merchant_id!r} is no longer in the catalogue")
    attempt = await _prepare(ctx, cmd, merchant)
    started = await _start(ctx, bill_id, attempt, idem)
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
            card = await ctx.views.read(
                "identity",
                lambda: ctx.cards.card_state(cmd.card_no, cmd.issuer_region),
                ok=lambda c: c is None or c.status not in ("lost", "cancelled"),
            )
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
            holder = _claimed(
                ctx,
                await ctx.views.read(
                    "identity", lambda: ctx.ecard.read(cmd.qr), ok=lambda h: not _rests_on_identity(h)
                ),
            )
            if isinstance(holder, EcardRefusal):
                return Attempt("ecard", Payer(), None, agreement, refusal=holder.reason, nonce=holder.nonce)
            cross = is_cross_region(holder.issuer_region, merchant.jurisdiction)
            payer = Payer(holder.payer_key, holder.issuer_region, cross)
            return Attempt("ecard", payer, holder.account_ref, agreement, nonce=holder.nonce)
        case PayOther():
            return Attempt("other", Payer(), None, agreement)


def _claimed(ctx: PaymentsContext, holder: EcardHolder | EcardRefusal) -> EcardHolder | EcardRefusal:
    """Embedded: claim the code before this payment records its use; a code identity took is
    `qr_reused`, whatever else was wrong (ADR 0012). A payment that is then not recorded leaves
    the code spent for identity (usable again here only)."""
    if holder.nonce is None or ctx.code_uses is None or ctx.code_uses.claim(holder.nonce, "payments"):
        return holder
    return EcardRefusal("qr_reused", holder.nonce)


def _rests_on_identity(holder: EcardHolder | EcardRefusal) -> bool:
    """A refusal that identity's view decided (its keys, its cards), not the code on its own."""
    return isinstance(holder, EcardRefusal) and holder.reason not in ("qr_malformed", "qr_expired")


async def _start(ctx: PaymentsContext, bill_id: str, attempt: Attempt, idem: Idempotency) -> Started:
    """The first unit of work: payment_initiated (and, without the bank, its outcome at once)."""
    return await ctx.writes.starts.submit(Start(bill_id, new_id("pay"), attempt, idem, now_rfc3339()))


async def finish(ctx: PaymentsContext, bill_id: str, payment_id: str, result: BankResult) -> Reply:
    """The second unit of work: the bank's outcome at the bill's version. Whoever finishes first
    (request or recovery) wins, and the other returns what was recorded."""
    return await ctx.writes.outcomes.submit(Finish(bill_id, payment_id, result))

"""A payment's two units of work, written together with the concurrent payments' (ADR 0016).

A payment commits twice (ADR 0006): its start (`payment_initiated`, the Idempotency-Key claimed,
an e-card code's nonce consumed) before the bank is called, and its outcome after. Each is queued
on a group commit (onecard_events.group_commit): one transaction takes every start (or every
outcome) queued at that moment, loads the batch's bills in one query, decides each payment on its
own bill, and writes the rows of the batch in one statement per table. Nothing changes for one
payment: it is durable before the bank is called, and decided at its bill's version.

A batch that meets a bill moved on by another transaction (a refund, a recovery racing the
request) is rolled back and its payments are written one by one, each as a batch of one, so one
racer never fails the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from onecard_events.group_commit import GroupCommit
from onecard_events.store import ConcurrencyError
from onecard_events.times import now_rfc3339
from onecard_service import idempotency
from onecard_service.problems import conflict
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..adapters import payment_rows, queries
from ..domain.bill import Bill, Payer
from ..domain.events import Method, PaymentDeclined, PaymentSettled
from ..domain.ports import BankOutcome, BankResult
from .common import Idempotency, Reply, bill_stream, payment_reply, payment_row
from .context import PaymentsContext

Outcome = PaymentSettled | PaymentDeclined


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
class Start:
    """A payment's first unit of work, as queued."""

    bill_id: str
    payment_id: str
    attempt: Attempt
    idem: Idempotency
    at: str


@dataclass(frozen=True)
class Started:
    payment_id: str
    bill_id: str
    amount_fen: int
    reply: Reply | None  # set when the payment finished without the bank (refused, or "other")


@dataclass(frozen=True)
class Finish:
    """A payment's second unit of work: the bank's answer to record."""

    bill_id: str
    payment_id: str
    result: BankResult


class PaymentWrites:
    """The group commits of a payments process (`run` is its worker): bills opened, payments'
    starts, payments' outcomes."""

    def __init__(self, ctx: PaymentsContext) -> None:
        from .bills import Opening, write_openings  # bills.py queues here: imported once built

        self.bills: GroupCommit[Opening, Reply] = GroupCommit(
            "bill-openings", lambda batch: write_openings(ctx, batch)
        )
        self.starts: GroupCommit[Start, Started] = GroupCommit(
            "payment-starts", lambda batch: _one_by_one_on_conflict(ctx, batch, _write_starts)
        )
        self.outcomes: GroupCommit[Finish, Reply] = GroupCommit(
            "payment-outcomes", lambda batch: _one_by_one_on_conflict(ctx, batch, _write_outcomes)
        )

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(self.bills.run(stop), self.starts.run(stop), self.outcomes.run(stop))


Item = TypeVar("Item")
Result = TypeVar("Result")
Write = Callable[[PaymentsContext, Sequence[Item]], Awaitable[list[Result | Exception]]]


async def _one_by_one_on_conflict(
    ctx: PaymentsContext, batch: Sequence[Item], write: Write[Item, Result]
) -> list[Result | Exception]:
    """`write` the batch; if a bill of it moved on meanwhile, each payment alone (so only the one
    that raced is retried or refused)."""
    try:
        return await write(ctx, batch)
    except ConcurrencyError:
        if len(batch) == 1:
            return [await _retrying(ctx, batch[0], write)]
    alone: list[Result | Exception] = []
    for item in batch:
        try:
            alone.append(await _retrying(ctx, item, write))
        except Exception as exc:
            alone.append(exc)
    return alone


async def _retrying(ctx: PaymentsContext, item: Item, write: Write[Item, Result]) -> Result | Exception:
    """An outcome is retried on its bill's new version (whoever finishes first wins); a start
    that lost its race is refused by the bill it meets the next time."""
    for _ in range(9):
        try:
            return (await write(ctx, [item]))[0]
        except ConcurrencyError:
            await asyncio.sleep(0.01)
    return (await write(ctx, [item]))[0]


async def _write_starts(ctx: PaymentsContext, batch: Sequence[Start]) -> list[Started | Exception]:
    results: list[Started | Exception | None] = [None] * len(batch)
    counted: list[Outcome] = []
    try:
        async with ctx.store.unit_of_work() as uow:
            conn = uow.connection
            bills = await uow.get_many({bill_stream(s.bill_id): Bill(s.bill_id) for s in batch})
            # Decided in the batch's order: of two payments of one bill, the first starts.
            taken: set[str] = set()
            open_ones: list[int] = []
            for i, s in enumerate(batch):
                refused = bills[bill_stream(s.bill_id)].initiation_refusal(taken=s.bill_id in taken)
                if refused is not None:
                    results[i] = refused
                else:
                    taken.add(s.bill_id)
                    open_ones.append(i)
            claimed = await idempotency.claim(
                conn, [(*s.idem.ref, s.idem.digest) for s in (batch[i] for i in open_ones) if s.idem.ref]
            )
            starting: list[int] = []
            for i in open_ones:
                ref = batch[i].idem.ref
                if ref is None:
                    starting.append(i)
                elif ref in claimed:
                    claimed.discard(ref)  # a second request of the batch with this key is a retry
                    starting.append(i)
                else:
                    results[i] = conflict("a request with this Idempotency-Key is already being handled")
            nonces = [n for n in dict.fromkeys(batch[i].attempt.nonce for i in starting) if n]
            fresh = await payment_rows.consume_nonces(conn, nonces)
            rows: list[payment_rows.Started] = []
            immediate: list[tuple[int, Outcome, tuple[str, str] | None]] = []
            for i in starting:
                s = batch[i]
                bill = bills[bill_stream(s.bill_id)]
                attempt, code_use = s.attempt, s.attempt.nonce
                if code_use is not None:
                    if code_use in fresh:
                        fresh.discard(code_use)  # the first of the batch has it; later ones replay
                    else:
                        # Used before (a replayed code): whatever else was wrong, this is the reason.
                        attempt = replace(attempt, payer=Payer(), account_ref=None, refusal="qr_reused")
                        code_use = None
                needs_bank = attempt.refusal is None and attempt.account_ref is not None
                initiated = bill.initiate(
                    s.payment_id,
                    attempt.method,
                    s.payment_id if needs_bank else None,
                    attempt.payer,
                    attempt.agreement_merchant,
                    s.at,
                    code_use,
                )
                rows.append((initiated, bill.merchant_id, attempt.account_ref, s.idem.ref))
                if not needs_bank:
                    immediate.append((i, _immediate_outcome(bill, s.payment_id, attempt, s.at), s.idem.ref))
                results[i] = Started(s.payment_id, s.bill_id, bill.amount_fen, None)
            await payment_rows.insert_payments(conn, rows)
            replies = await record_outcomes(conn, [(e, ref) for _, e, ref in immediate])
            for (i, event, _), reply in zip(immediate, replies, strict=True):
                results[i] = Started(batch[i].payment_id, batch[i].bill_id, event.amount_fen, reply)
                counted.append(event)
            await uow.save()
    except IntegrityError:
        # Not expected (keys and nonces skip duplicates, ids are fresh); kept as the edge says it.
        raise conflict("a request with this Idempotency-Key is already being handled") from None
    for event in counted:
        ctx.metrics.count(event.method, status_of(event))
    return [r for r in results if r is not None]  # every payment of the batch has its result


def _immediate_outcome(bill: Bill, payment_id: str, attempt: Attempt, at: str) -> Outcome:
    outcome = (
        bill.decline(payment_id, attempt.refusal, at)
        if attempt.refusal is not None
        else bill.settle(payment_id, at)
    )
    assert outcome is not None  # initiated just now, so it has no outcome yet
    return outcome


async def _write_outcomes(ctx: PaymentsContext, batch: Sequence[Finish]) -> list[Reply | Exception]:
    results: list[Reply | None] = [None] * len(batch)
    decided: list[tuple[int, Outcome]] = []
    async with ctx.store.unit_of_work() as uow:
        bills = await uow.get_many({bill_stream(f.bill_id): Bill(f.bill_id) for f in batch})
        at = now_rfc3339()
        for i, f in enumerate(batch):
            bill = bills[bill_stream(f.bill_id)]
            outcome = (
                bill.settle(f.payment_id, at)
                if f.result.outcome is BankOutcome.APPROVED
                else bill.decline(f.payment_id, f.result.reason or "declined_by_bank", at)
            )
            if outcome is not None:  # None: recorded already (by a recovery, or a racing request)
                decided.append((i, outcome))
        rows = await queries.payments_in(uow.connection, [e.payment_id for _, e in decided])
        replies = await record_outcomes(
            uow.connection, [(e, _idem_of(rows.get(e.payment_id))) for _, e in decided]
        )
        for (i, _), decided_reply in zip(decided, replies, strict=True):
            results[i] = decided_reply
        await uow.save()
    for _, event in decided:
        ctx.metrics.count(event.method, status_of(event))
    answered: list[Reply | Exception] = []
    for f, reply in zip(batch, results, strict=True):
        if reply is None:  # recorded by another: answer with what it recorded
            recorded = await payment_row(ctx, f.payment_id)
            answered.append((201, payment_reply(f.payment_id, f.bill_id, recorded.status, recorded.reason)))
        else:
            answered.append(reply)
    return answered


def _idem_of(row: object) -> tuple[str, str] | None:
    scope, key = getattr(row, "idem_scope", None), getattr(row, "idem_key", None)
    return (scope, key) if scope and key else None


def status_of(event: Outcome) -> str:
    return "settled" if isinstance(event, PaymentSettled) else "declined"


async def record_outcomes(
    conn: AsyncConnection, outcomes: Sequence[tuple[Outcome, tuple[str, str] | None]]
) -> list[Reply]:
    """The outcomes' rows and, for each request with an Idempotency-Key, its stored reply."""
    await payment_rows.record_outcomes(conn, [e for e, _ in outcomes])
    replies: list[Reply] = []
    stored: list[tuple[str, str, int, object]] = []
    for event, ref in outcomes:
        reason = event.reason if isinstance(event, PaymentDeclined) else None
        reply: Reply = (201, payment_reply(event.payment_id, event.bill_id, status_of(event), reason))
        replies.append(reply)
        if ref is not None:
            stored.append((*ref, *reply))
    await idempotency.complete_many(conn, stored)
    return replies

"""Calling the card bank: a timeout per call, and an unknown outcome resolved by status queries.

Callers never send a second debit under a new reference: every call for one payment carries the
payment's own reference (recorded in `payment_initiated` before the first call), so re-sending
is harmless and the bank applies it at most once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from ..domain.ports import BankOutcome, BankResult
from .context import PaymentsContext

log = logging.getLogger(__name__)
UNKNOWN = BankResult(BankOutcome.UNKNOWN, "bank_outcome_unknown")


async def _bounded(ctx: PaymentsContext, call: Awaitable[BankResult], what: str) -> BankResult:
    try:
        return await asyncio.wait_for(call, ctx.config.bank_timeout_s)
    except TimeoutError:
        log.warning("bank %s timed out after %.1fs", what, ctx.config.bank_timeout_s)
    except Exception:
        log.exception("bank %s failed", what)
    return UNKNOWN


async def debit(ctx: PaymentsContext, account_ref: str, amount_fen: int, bank_ref: str) -> BankResult:
    """approved/declined, or unknown when neither the call nor the status queries could tell."""
    result = await _bounded(ctx, ctx.bank.debit(account_ref, amount_fen, bank_ref), f"debit {bank_ref}")
    if result.outcome is BankOutcome.UNKNOWN:
        result = await resolve(ctx, bank_ref)
    return result


async def resolve(ctx: PaymentsContext, bank_ref: str) -> BankResult:
    """Ask the bank what became of `bank_ref`; not_found counts as unknown (it may still land)."""
    for _ in range(ctx.config.status_attempts):
        await asyncio.sleep(ctx.config.status_interval_s)
        result = await _bounded(ctx, ctx.bank.status(bank_ref), f"status {bank_ref}")
        if result.outcome in (BankOutcome.APPROVED, BankOutcome.DECLINED):
            return result
    return UNKNOWN


async def status(ctx: PaymentsContext, bank_ref: str) -> BankResult:
    return await _bounded(ctx, ctx.bank.status(bank_ref), f"status {bank_ref}")


async def refund(
    ctx: PaymentsContext, account_ref: str, amount_fen: int, refund_id: str, original_ref: str
) -> BankResult:
    return await _bounded(
        ctx, ctx.bank.refund(account_ref, amount_fen, refund_id, original_ref), f"refund {refund_id}"
    )

"""SimulatedCardBank: the one simulated component, standing in for the card-issuing bank.

It is deterministic (outcomes follow configured rules, never chance) and durable: its ledger is
a table in the payments database, committed before it answers, so killing the process between
the debit and the answer does not make the bank forget the debit. Each reference is applied at
most once, as a real bank's idempotency reference would be.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from dataclasses import dataclass

from onecard_events.database import Database
from onecard_events.times import utcnow
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.ports import BankOutcome, BankResult
from .tables import simbank_ledger

log = logging.getLogger(__name__)


@dataclass
class BankRules:
    """How the simulated bank decides and how slow it is (ONECARD_SIMBANK_* variables)."""

    # Debits above this amount are refused as if the account lacked the funds.
    decline_above_fen: int = 50_000_000
    # Accounts (keyed hashes of card numbers) starting with one of these are frozen.
    frozen_account_prefixes: tuple[str, ...] = ()
    # Delay before the bank records a debit (network and processing).
    latency_s: float = 0.0
    # Delay after the debit is durable and before the answer: a lost or late answer.
    answer_delay_s: float = 0.0
    # Fault injection: SIGKILL this process once a debit is durable, before answering.
    crash_after_debit: bool = False

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> BankRules:
        e = dict(os.environ if env is None else env)
        prefixes = tuple(p for p in e.get("ONECARD_SIMBANK_FROZEN_ACCOUNT_PREFIXES", "").split(",") if p)
        return cls(
            decline_above_fen=int(e.get("ONECARD_SIMBANK_DECLINE_ABOVE_FEN", "50000000")),
            frozen_account_prefixes=prefixes,
            latency_s=int(e.get("ONECARD_SIMBANK_LATENCY_MS", "0")) / 1000,
            answer_delay_s=int(e.get("ONECARD_SIMBANK_ANSWER_DELAY_MS", "0")) / 1000,
            crash_after_debit=e.get("ONECARD_SIMBANK_CRASH_AFTER_DEBIT") == "1",
        )

    def decide(self, account_ref: str, amount_fen: int) -> BankResult:
        if any(account_ref.startswith(p) for p in self.frozen_account_prefixes):
            return BankResult(BankOutcome.DECLINED, "account_frozen")
        if amount_fen > self.decline_above_fen:
            return BankResult(BankOutcome.DECLINED, "insufficient_funds")
        return BankResult(BankOutcome.APPROVED)


class SimulatedCardBank:
    def __init__(self, db: Database, rules: BankRules | None = None) -> None:
        self.db = db
        self.rules = rules or BankRules()

    async def debit(self, account_ref: str, amount_fen: int, idempotency_ref: str) -> BankResult:
        await asyncio.sleep(self.rules.latency_s)
        result, fresh = await self._record(
            idempotency_ref, "debit", account_ref, amount_fen, self.rules.decide(account_ref, amount_fen)
        )
        if fresh and result.outcome is BankOutcome.APPROVED and self.rules.crash_after_debit:
            log.warning("simulated bank: debit %s is durable; crashing as configured", idempotency_ref)
            os.kill(os.getpid(), signal.SIGKILL)
        await asyncio.sleep(self.rules.answer_delay_s)
        return result

    async def status(self, idempotency_ref: str) -> BankResult:
        async with self.db.engine.connect() as conn:
            row = await _entry(conn, idempotency_ref)
        return BankResult(BankOutcome(row.outcome), row.reason) if row else BankResult(BankOutcome.NOT_FOUND)

    async def refund(
        self, account_ref: str, amount_fen: int, idempotency_ref: str, original_ref: str
    ) -> BankResult:
        await asyncio.sleep(self.rules.latency_s)
        async with self.db.engine.connect() as conn:
            room = await self._refundable(conn, original_ref)
        decision = (
            BankResult(BankOutcome.APPROVED)
            if amount_fen <= room
            else BankResult(BankOutcome.DECLINED, "exceeds_original_debit")
        )
        result, _ = await self._record(
            idempotency_ref, "refund", account_ref, amount_fen, decision, original_ref
        )
        return result

    async def ledger(self, kind: str | None = None) -> list[dict[str, object]]:
        """Every entry (for tests and operators reconciling against the bank)."""
        query = select(simbank_ledger).order_by(simbank_ledger.c.recorded_at)
        if kind:
            query = query.where(simbank_ledger.c.kind == kind)
        async with self.db.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings()]

    async def _refundable(self, conn: AsyncConnection, original_ref: str) -> int:
        debit = await _entry(conn, original_ref)
        if debit is None or debit.outcome != BankOutcome.APPROVED:
            return 0
        refunded = (
            await conn.execute(
                select(func.coalesce(func.sum(simbank_ledger.c.amount_fen), 0)).where(
                    simbank_ledger.c.original_ref == original_ref,
                    simbank_ledger.c.outcome == BankOutcome.APPROVED.value,
                )
            )
        ).scalar_one()
        return int(debit.amount_fen) - int(refunded)

    async def _record(
        self,
        ref: str,
        kind: str,
        account_ref: str,
        amount_fen: int,
        decision: BankResult,
        original_ref: str | None = None,
    ) -> tuple[BankResult, bool]:
        """Apply `decision` under `ref` unless the ref is known: then the first outcome stands."""
        try:
            async with self.db.engine.begin() as conn:
                existing = await _entry(conn, ref)
                if existing is not None:
                    return BankResult(BankOutcome(existing.outcome), existing.reason), False
                await conn.execute(
                    simbank_ledger.insert().values(
                        ref=ref,
                        kind=kind,
                        account_ref=account_ref,
                        amount_fen=amount_fen,
                        outcome=decision.outcome.value,
                        reason=decision.reason,
                        original_ref=original_ref,
                        recorded_at=utcnow().isoformat(),
                    )
                )
        except IntegrityError:
            # A concurrent call with the same reference won: report its outcome.
            return await self.status(ref), False
        return decision, True


async def _entry(conn: AsyncConnection, ref: str):  # type: ignore[no-untyped-def]
    return (await conn.execute(select(simbank_ledger).where(simbank_ledger.c.ref == ref))).first()

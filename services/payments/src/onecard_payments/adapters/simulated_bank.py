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
from collections.abc import Sequence
from dataclasses import dataclass

from onecard_events.database import Database
from onecard_events.group_commit import GroupCommit
from onecard_events.sql import any_of, insert_for
from onecard_events.times import utcnow
from sqlalchemy import func, select
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


@dataclass(frozen=True)
class _Entry:
    """A ledger entry to apply under `ref`, unless the ref is known (then the first outcome stands)."""

    ref: str
    kind: str
    account_ref: str
    amount_fen: int
    decision: BankResult
    original_ref: str | None = None


class SimulatedCardBank:
    def __init__(self, db: Database, rules: BankRules | None = None) -> None:
        self.db = db
        self.rules = rules or BankRules()
        # Concurrent debits are written to the ledger together, as a bank's own batching would:
        # one commit for many, each still durable before its answer (`run` is the worker).
        self.debits: GroupCommit[_Entry, tuple[BankResult, bool]] = GroupCommit(
            "simulated-bank-debits", self._record_many
        )

    async def run(self, stop: asyncio.Event) -> None:
        await self.debits.run(stop)

    async def debit(self, account_ref: str, amount_fen: int, idempotency_ref: str) -> BankResult:
        await asyncio.sleep(self.rules.latency_s)
        decision = self.rules.decide(account_ref, amount_fen)
        result, fresh = await self.debits.submit(
            _Entry(idempotency_ref, "debit", account_ref, amount_fen, decision)
        )
        if fresh and result.outcome is BankOutcome.APPROVED and self.rules.crash_after_debit:
            log.warning("simulated bank: debit %s is durable; crashing as configured", idempotency_ref)
            os.kill(os.getpid(), signal.SIGKILL)
        await asyncio.sleep(self.rules.answer_delay_s)
        return result

    async def status(self, idempotency_ref: str) -> BankResult:
        async with self.db.reads.connect() as conn:
            row = await _entry(conn, idempotency_ref)
        return BankResult(BankOutcome(row.outcome), row.reason) if row else BankResult(BankOutcome.NOT_FOUND)

    async def refund(
        self, account_ref: str, amount_fen: int, idempotency_ref: str, original_ref: str
    ) -> BankResult:
        await asyncio.sleep(self.rules.latency_s)
        async with self.db.reads.connect() as conn:
            room = await self._refundable(conn, original_ref)
        decision = (
            BankResult(BankOutcome.APPROVED)
            if amount_fen <= room
            else BankResult(BankOutcome.DECLINED, "exceeds_original_debit")
        )
        entry = _Entry(idempotency_ref, "refund", account_ref, amount_fen, decision, original_ref)
        result, _ = (await self._record_many([entry]))[0]
        return result

    async def ledger(self, kind: str | None = None) -> list[dict[str, object]]:
        """Every entry (for tests and operators reconciling against the bank)."""
        query = select(simbank_ledger).order_by(simbank_ledger.c.recorded_at)
        if kind:
            query = query.where(simbank_ledger.c.kind == kind)
        async with self.db.reads.connect() as conn:
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

    async def _record_many(self, entries: Sequence[_Entry]) -> list[tuple[BankResult, bool]]:
        """Apply each entry unless its ref is known; (outcome, whether this call applied it)."""
        t = simbank_ledger.c
        at = utcnow().isoformat()
        async with self.db.engine.begin() as conn:
            query = select(t.ref, t.outcome, t.reason).where(any_of(conn, t.ref, [e.ref for e in entries]))
            known = {row.ref: row for row in await conn.execute(query)}
            new = {e.ref: e for e in reversed(entries) if e.ref not in known}  # the first of a ref wins
            rows = [
                {
                    "ref": e.ref,
                    "kind": e.kind,
                    "account_ref": e.account_ref,
                    "amount_fen": e.amount_fen,
                    "outcome": e.decision.outcome.value,
                    "reason": e.decision.reason,
                    "original_ref": e.original_ref,
                    "recorded_at": at,
                }
                for e in new.values()
            ]
            applied: set[str] = set()
            if rows:
                statement = insert_for(conn, simbank_ledger).values(rows).on_conflict_do_nothing()
                applied = set((await conn.execute(statement.returning(t.ref))).scalars())
        results: list[tuple[BankResult, bool]] = []
        for e in entries:
            if e.ref in known:
                row = known[e.ref]
                results.append((BankResult(BankOutcome(row.outcome), row.reason), False))
            elif e.ref in applied and new[e.ref] is e:
                applied.discard(e.ref)
                results.append((e.decision, True))
            else:
                # A concurrent call with the same reference won: report its outcome.
                results.append((await self.status(e.ref), False))
        return results


async def _entry(conn: AsyncConnection, ref: str):  # type: ignore[no-untyped-def]
    return (await conn.execute(select(simbank_ledger).where(simbank_ledger.c.ref == ref))).first()

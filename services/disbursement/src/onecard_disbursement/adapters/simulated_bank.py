"""SimulatedDisbursementBank: the one simulated component of the platform.

It stands in for the card bank's bulk-payment interface. Its books are a table
(`simbank_ledger`), so an order re-sent after a crash pays nobody twice: the reference id is
the ledger's key. Outcomes follow deterministic, configurable rules; results are posted back in
chunks through the service's result handler, as a real bank's callback would. Being the bank,
it keeps its own transactions on its own ledger (no unit of work: it records no events).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

from onecard_events.database import Database
from onecard_events.sql import any_of, chunks, insert_columns, is_postgres
from onecard_events.times import utcnow
from onecard_events.waiting import wait_or_stop
from sqlalchemy import select, update

from ..domain.settlement import Result
from .bank import PaymentOrder, ResultSink
from .tables import simbank_ledger
from .waiting import wait_for_either

log = logging.getLogger(__name__)
# Ledger rows per transaction when an order is taken.
SUBMIT_ROWS = 20_000


@dataclass(frozen=True)
class SimulatedBankRules:
    """Deterministic outcomes: by reference suffix, by amount, then by a hash of the reference."""

    fail_per_mille: int = 0
    return_per_mille: int = 0
    fail_above_fen: int | None = None
    fail_suffix: str = "-FAIL"
    return_suffix: str = "-RETURN"

    def outcome(self, reference_id: str, amount_fen: int) -> tuple[str, str]:
        if reference_id.endswith(self.fail_suffix):
            return "failed", "account_closed"
        if reference_id.endswith(self.return_suffix):
            return "returned", "account_frozen"
        if self.fail_above_fen is not None and amount_fen > self.fail_above_fen:
            return "failed", "limit_exceeded"
        bucket = int.from_bytes(hashlib.sha256(reference_id.encode()).digest()[:4], "big") % 1000
        if bucket < self.fail_per_mille:
            return "failed", "account_closed"
        if bucket < self.fail_per_mille + self.return_per_mille:
            return "returned", "account_frozen"
        return "paid", ""


@dataclass
class SimulatedBankConfig:
    rules: SimulatedBankRules
    # Results per call of the sink: one transaction each (the callback API takes up to 20,000).
    chunk: int = 20_000
    pause_seconds: float = 0.0
    # False: record orders but post nothing (tests then play the bank through the HTTP callback).
    auto_post: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SimulatedBankConfig:
        above = env.get("ONECARD_SIMBANK_FAIL_ABOVE_FEN")
        rules = SimulatedBankRules(
            fail_per_mille=int(env.get("ONECARD_SIMBANK_FAIL_PER_MILLE", "0")),
            return_per_mille=int(env.get("ONECARD_SIMBANK_RETURN_PER_MILLE", "0")),
            fail_above_fen=int(above) if above else None,
        )
        return cls(
            rules=rules,
            chunk=int(env.get("ONECARD_SIMBANK_CHUNK", "20000")),
            pause_seconds=float(env.get("ONECARD_SIMBANK_PAUSE", "0")),
            auto_post=env.get("ONECARD_SIMBANK_AUTO_POST", "1") != "0",
        )


class SimulatedDisbursementBank:
    def __init__(self, db: Database, config: SimulatedBankConfig, sink: ResultSink | None = None) -> None:
        self.db = db
        self.config = config
        self.sink = sink
        self._wakeup = asyncio.Event()

    async def submit(self, order: PaymentOrder) -> None:
        now = utcnow()
        outcome = self.config.rules.outcome
        decided = [outcome(i.reference_id, i.amount_fen) for i in order.instructions]
        for start in range(0, len(decided), SUBMIT_ROWS):
            part = order.instructions[start : start + SUBMIT_ROWS]
            verdicts = decided[start : start + SUBMIT_ROWS]
            async with self.db.engine.begin() as conn:
                await insert_columns(
                    conn,
                    simbank_ledger,
                    {
                        "reference_id": [i.reference_id for i in part],
                        "beneficiary_key": [i.beneficiary_key for i in part],
                        "amount_fen": [i.amount_fen for i in part],
                        "channel": [i.channel for i in part],
                        "outcome": [o for o, _ in verdicts],
                        "reason": [r for _, r in verdicts],
                    },
                    {"batch_id": order.batch_id, "posted": False, "created_at": now},
                    on_conflict="ON CONFLICT DO NOTHING",
                )
        self._wakeup.set()

    async def statement(self, batch_id: str) -> dict[str, Result]:
        query = select(
            simbank_ledger.c.reference_id, simbank_ledger.c.outcome, simbank_ledger.c.reason
        ).where(simbank_ledger.c.batch_id == batch_id)
        async with self.db.reads.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {r.reference_id: Result(r.reference_id, r.outcome, r.reason) for r in rows}

    async def post_once(self) -> int:
        """Post one chunk of unposted outcomes; returns how many. Marked posted only after the
        service took them, so a crash in between posts them again (results are idempotent)."""
        if self.sink is None or not self.config.auto_post:
            return 0
        query = (
            select(simbank_ledger.c.reference_id, simbank_ledger.c.outcome, simbank_ledger.c.reason)
            .where(simbank_ledger.c.posted.is_(False))
            .order_by(simbank_ledger.c.reference_id)
            .limit(self.config.chunk)
        )
        async with self.db.reads.connect() as conn:
            rows = (await conn.execute(query)).all()
        if not rows:
            return 0
        await self.sink([Result(r.reference_id, r.outcome, r.reason) for r in rows])
        refs = [r.reference_id for r in rows]
        async with self.db.engine.begin() as conn:
            # The whole set as one array on PostgreSQL; IN lists of a chunk each on SQLite.
            for part in [refs] if is_postgres(conn) else chunks(refs):
                await conn.execute(
                    update(simbank_ledger)
                    .where(any_of(conn, simbank_ledger.c.reference_id, part))
                    .values(posted=True)
                )
        return len(rows)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            posted = await self.post_once()
            if posted:
                await wait_or_stop(stop, self.config.pause_seconds)
                continue
            self._wakeup.clear()
            await wait_for_either(stop, self._wakeup, 0.5)

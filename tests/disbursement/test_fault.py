"""SIGKILL `onecard serve disbursement` while the bank's results arrive; after a restart every
payee ends in exactly one final state and nobody is paid twice."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from onecard_events.tables import events
from sqlalchemy import func, select

from tests.support.catalogue import publish_catalog
from tests.support.people import person
from tests.support.processes import ChildProcess, distributed_env, serve

from .support import batch_body, create_program, item

PAYEES = 3000


async def _progress(client: httpx.AsyncClient, served: ChildProcess, batch_id: str) -> dict[str, Any]:
    response = await client.get(f"/disbursement/v1/batches/{batch_id}", headers=served.admin)
    body: dict[str, Any] = response.json()
    return body


async def test_killed_mid_results_settles_everyone_once(
    pg_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = await distributed_env(
        pg_url,
        kafka_bootstrap,
        ONECARD_SIMBANK_CHUNK="150",
        ONECARD_SIMBANK_PAUSE="0.05",
        ONECARD_SIMBANK_FAIL_PER_MILLE="30",
        ONECARD_SIMBANK_RETURN_PER_MILLE="30",
    )
    served = serve("disbursement", env, log=tmp_path / "serve.log")
    await served.start()
    try:
        async with httpx.AsyncClient(base_url=served.url, timeout=60) as client:
            item_id = f"500155:F{uuid.uuid4().hex[:6]}"
            await publish_catalog(kafka_bootstrap, env["ONECARD_TOPIC_PREFIX"], item(item_id))
            program_id = await create_program(client, served.admin, item_id)
            rows = [person(i, ref=f"F{i:05d}-{program_id}", amount=1000 + i) for i in range(PAYEES)]
            batch_id = f"B-{uuid.uuid4().hex[:8]}"
            body = batch_body(batch_id, program_id, rows, count=PAYEES)
            assert (
                await client.post("/disbursement/v1/batches", json=body, headers=served.admin)
            ).status_code == 201
            added = await client.post(
                f"/disbursement/v1/batches/{batch_id}/payees", json={"payees": rows}, headers=served.admin
            )
            assert added.json()["accepted"] == PAYEES, added.text
            submitted = await client.post(f"/disbursement/v1/batches/{batch_id}/submit", headers=served.admin)
            assert submitted.status_code == 202
            while True:  # kill once some, but not all, results have been applied
                state = await _progress(client, served, batch_id)
                if PAYEES // 5 < PAYEES - state["pending"] < PAYEES:
                    break
                assert state["status"] != "completed", "the batch finished before the kill"
                await asyncio.sleep(0.02)
        served.kill()
        await served.start()
        async with httpx.AsyncClient(base_url=served.url, timeout=60) as client:
            for _ in range(600):
                state = await _progress(client, served, batch_id)
                if state["status"] == "completed":
                    break
                await asyncio.sleep(0.1)
            assert state["status"] == "completed", state
            assert state["paid"] + state["failed"] + state["returned"] == PAYEES
            recon = await client.get(
                f"/disbursement/v1/batches/{batch_id}/reconciliation", headers=served.admin
            )
            assert recon.json()["balanced"] is True, recon.json()["mismatches"][:5]
        await _assert_settled_once(served, batch_id)
    finally:
        served.stop()


async def _assert_settled_once(served: ChildProcess, batch_id: str) -> None:
    from onecard_disbursement.adapters.tables import payees, simbank_ledger

    db = served.database("disbursement")
    try:
        async with db.engine.connect() as conn:
            statuses = Counter(
                (await conn.execute(select(payees.c.status).where(payees.c.batch_id == batch_id))).scalars()
            )
            assert sum(statuses.values()) == PAYEES and statuses["pending"] == 0, statuses
            ledger = (await conn.execute(select(func.count()).select_from(simbank_ledger))).scalar_one()
            assert ledger == PAYEES  # one bank instruction per payee, however often the order was re-sent
            settled = (
                (
                    await conn.execute(
                        select(events.c.data).where(
                            events.c.event_type == "onecard.disbursement.payee_settled"
                        )
                    )
                )
                .scalars()
                .all()
            )
            completions = (
                await conn.execute(
                    select(func.count())
                    .select_from(events)
                    .where(events.c.event_type == "onecard.disbursement.batch_completed")
                )
            ).scalar_one()
    finally:
        await db.dispose()
    per_payee = Counter(e["reference_id"] for e in settled)
    assert len(per_payee) == PAYEES and set(per_payee.values()) == {1}, "one settlement event per payee"
    paid_people = Counter(e["beneficiary_key"] for e in settled if e["outcome"] == "paid")
    assert all(n == 1 for n in paid_people.values()), "nobody is paid twice"
    assert Counter(e["outcome"] for e in settled) == statuses - Counter({"pending": 0})
    assert completions == 1

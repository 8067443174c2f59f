"""The main flow in both modes: program, batch, payees, submission, settlement, reconciliation."""

from __future__ import annotations

import json
from typing import Any

from onecard_events.tables import events
from sqlalchemy import select

from tests.support.people import person
from tests.support.platform import RunningPlatform

from .support import add, batch, completed, program, submit

EVENT_TYPES = {
    "onecard.disbursement.program_created",
    "onecard.disbursement.batch_created",
    "onecard.disbursement.payees_accepted",
    "onecard.disbursement.batch_submitted",
    "onecard.disbursement.payee_settled",
    "onecard.disbursement.batch_completed",
}


async def _events(running: RunningPlatform) -> list[dict[str, Any]]:
    runtime = running.runtime("disbursement")
    async with runtime.db.engine.connect() as conn:
        rows = (
            await conn.execute(select(events.c.event_type, events.c.data).order_by(events.c.position))
        ).all()
    return [{"type": t, "data": d} for t, d in rows]


def _assert_no_pii(text: str, rows: list[dict[str, Any]]) -> None:
    for r in rows:
        for field in ("ssn", "card_no", "name"):
            assert r[field] not in text, f"{field} in clear"


async def test_main_flow(any_mode: RunningPlatform) -> None:
    running = any_mode
    program_id = await program(running)
    p = program_id
    rows = [
        person(1, ref=f"{p}-1", amount=150_00),
        person(2, ref=f"{p}-2", amount=200_00, channel="other_account"),
        person(3, ref=f"{p}-3", amount=50_00, channel="cash"),
        person(4, ref=f"{p}-4-FAIL", amount=10_00),
        person(5, ref=f"{p}-5-RETURN", amount=20_00),
    ]
    batch_id = await batch(running, program_id, rows)
    added = await add(running, batch_id, rows)
    assert added == {"accepted": 5, "rejected": []}
    submitted = await submit(running, batch_id)
    assert submitted.status_code == 202, submitted.text
    final = await completed(running, batch_id)
    assert (final["paid"], final["failed"], final["returned"], final["pending"]) == (3, 1, 1, 0)
    assert final["paid_total_fen"] == 400_00

    texts = [json.dumps(added), submitted.text, json.dumps(final)]
    payee = await running.client.get(
        f"/disbursement/v1/batches/{batch_id}/payees/{rows[0]['reference_id']}", headers=running.admin
    )
    assert payee.json()["status"] == "paid" and payee.json()["ssn_masked"].startswith("500")
    texts.append(payee.text)
    recon = await running.client.get(
        f"/disbursement/v1/batches/{batch_id}/reconciliation", headers=running.admin
    )
    assert recon.json()["balanced"] is True, recon.text
    assert recon.json()["mismatches"] == []
    texts.append(recon.text)

    logged = await _events(running)
    assert {e["type"] for e in logged} == EVENT_TYPES
    settled = [e["data"] for e in logged if e["type"] == "onecard.disbursement.payee_settled"]
    assert sorted(s["outcome"] for s in settled) == ["failed", "paid", "paid", "paid", "returned"]
    assert {s["channel"] for s in settled if s["outcome"] == "paid"} == {
        "card_account",
        "other_account",
        "cash",
    }
    texts.append(json.dumps(logged, ensure_ascii=False))
    _assert_no_pii("\n".join(texts), rows)

    metrics = (await running.client.get("/disbursement/metrics")).text
    assert 'onecard_disbursements_total{channel="card_account",outcome="paid"} 1.0' in metrics

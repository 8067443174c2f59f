"""Concurrent payments are committed together (ADR 0016), each still decided on its own bill: a
batch holds many payments of one merchant, the day's totals count every one of them, payments of
one bill in flight together settle it once, and an Idempotency-Key is claimed once."""

from __future__ import annotations

import asyncio

from onecard_events.times import now_rfc3339
from onecard_payments.domain.reconciliation import business_day

from tests.payments.helpers import card, ctx, merchants, open_bill, pay
from tests.support.platform import RunningPlatform

PAYMENTS = 40


async def test_concurrent_payments_share_commits(distributed: RunningPlatform) -> None:
    running = distributed
    merchant = await merchants(running)
    bills = [await open_bill(running, merchant, 100 + i) for i in range(PAYMENTS)]
    writes = ctx(running).writes
    starts_before, outcomes_before = writes.starts.batches, writes.outcomes.batches

    paid = await asyncio.gather(
        *(pay(running, b, {"method": "card_account", "card": card(500 + i)}) for i, b in enumerate(bills))
    )

    assert [p.status_code for p in paid] == [201] * PAYMENTS, [p.text for p in paid if p.status_code != 201]
    assert {p.json()["status"] for p in paid} == {"settled"}
    # Fewer transactions than payments: starts and outcomes were written in batches.
    assert writes.starts.batches - starts_before < PAYMENTS
    assert writes.outcomes.batches - outcomes_before < PAYMENTS
    day = business_day(now_rfc3339())
    totals = await running.client.get(
        "/payments/v1/reconciliation", params={"date": day, "merchant_id": merchant}, headers=running.admin
    )
    assert totals.status_code == 200, totals.text
    assert totals.json()["merchants"][0]["settled_count"] == PAYMENTS
    assert totals.json()["merchants"][0]["settled_fen"] == sum(100 + i for i in range(PAYMENTS))


async def test_racing_requests_start_one_payment(distributed: RunningPlatform) -> None:
    running = distributed
    bill = await open_bill(running, await merchants(running), 700)
    both = await asyncio.gather(
        *(pay(running, bill, {"method": "card_account", "card": card(900 + i)}) for i in range(6))
    )
    settled = [p for p in both if p.status_code == 201 and p.json()["status"] == "settled"]
    assert len(settled) == 1, [p.text for p in both]
    assert all(p.status_code == 409 for p in both if p not in settled), [p.text for p in both]

    # One Idempotency-Key sent four times at once is claimed once.
    bill = await open_bill(running, await merchants(running), 300)
    headers = {**running.admin, "Idempotency-Key": "same-key-twice"}
    body = {"method": "card_account", "card": card(42)}
    url = f"/payments/v1/bills/{bill}/payments"
    answers = await asyncio.gather(*(running.client.post(url, json=body, headers=headers) for _ in range(4)))
    # One payment: the other requests are told it is in progress, or answered with its reply.
    assert {a.status_code for a in answers} <= {201, 409}, [a.text for a in answers]
    assert len({a.json()["payment_id"] for a in answers if a.status_code == 201}) == 1
    shown = await running.client.get(f"/payments/v1/bills/{bill}", headers=running.admin)
    assert len(shown.json()["payments"]) == 1, shown.text

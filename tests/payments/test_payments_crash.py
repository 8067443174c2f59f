"""Fault test: the payments process is killed (SIGKILL) right after the bank made the debit
durable and before it answered. After a restart the payment is settled exactly once, with one
debit in the bank's ledger, and a retry with the same Idempotency-Key returns it: the first retry
once the restarted process is ready, with the recovery worker's default delay (issue 12)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
from onecard_catalog.domain.events import MerchantJoinedAgreement, MerchantRegistered
from onecard_events.database import open_database
from sqlalchemy import text

from tests.payments.helpers import card
from tests.support.catalogue import publish_catalog
from tests.support.processes import distributed_env, serve


async def test_kill_after_debit_settles_exactly_once(
    pg_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = await distributed_env(pg_url, kafka_bootstrap)
    server = serve("payments", env, log=tmp_path / "payments.log")
    database_url, prefix = env["ONECARD_DATABASE_URL"], env["ONECARD_TOPIC_PREFIX"]
    merchant = f"m-{uuid.uuid4().hex[:8]}"
    await publish_catalog(
        kafka_bootstrap,
        prefix,
        MerchantRegistered(merchant_id=merchant, name="医院", jurisdiction="500106", item_id="500000:80"),
        MerchantJoinedAgreement(merchant_id=merchant),
    )
    await server.start(ONECARD_SIMBANK_CRASH_AFTER_DEBIT="1")
    try:
        async with httpx.AsyncClient(base_url=server.url, headers=server.admin, timeout=10) as client:
            bill_id = await _open_bill_when_merchant_known(client, merchant)
            pay_headers = {"Idempotency-Key": "crash-1"}
            body = {"method": "card_account", "card": card()}
            try:
                await client.post(f"/payments/v1/bills/{bill_id}/payments", json=body, headers=pay_headers)
                raise AssertionError("the process should have died mid-request")
            except httpx.TransportError:
                pass
            assert server.process is not None
            assert server.process.wait(10) == -9

            # The worker's own delay (30 s by default) would leave the retry told 409 "in
            # progress" that long; the recovery at start finishes the payment before ready.
            await server.start()
            first = await client.post(
                f"/payments/v1/bills/{bill_id}/payments", json=body, headers=pay_headers
            )
            assert first.status_code == 201, first.text
            assert first.json()["status"] == "settled"
            again = await client.post(
                f"/payments/v1/bills/{bill_id}/payments", json=body, headers=pay_headers
            )
            assert again.status_code == 201 and again.json() == first.json()
            shown = await client.get(f"/payments/v1/payments/{first.json()['payment_id']}")
            assert shown.json()["status"] == "settled"
            assert (await client.post(f"/payments/v1/bills/{bill_id}/payments", json=body)).status_code == 409
    finally:
        server.stop()

    db = open_database(database_url, schema="payments")
    try:
        async with db.engine.connect() as conn:
            debits = (await conn.execute(text("SELECT ref FROM simbank_ledger WHERE kind = 'debit'"))).all()
            settled = (
                await conn.execute(
                    text("SELECT count(*) FROM events WHERE event_type = 'onecard.payments.payment_settled'")
                )
            ).scalar_one()
    finally:
        await db.dispose()
    assert [d.ref for d in debits] == [first.json()["payment_id"]]
    assert settled == 1


async def _open_bill_when_merchant_known(client: httpx.AsyncClient, merchant: str) -> str:
    body = {"merchant_id": merchant, "bill_ref": "crash-bill", "amount_fen": 2300}
    for _ in range(200):
        r = await client.post("/payments/v1/bills", json=body)
        if r.status_code == 201:
            return str(r.json()["bill_id"])
        assert r.status_code == 422, r.text  # the catalogue view has not caught up yet
        await asyncio.sleep(0.1)
    raise AssertionError("the merchant never reached the payments catalogue view")

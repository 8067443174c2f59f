"""The bank at the edge: an unknown outcome resolved by a status query, and recovery of initiated
payments without a second debit. (The bill's rules on their own: tests/unit/payments.)"""

from __future__ import annotations

from dataclasses import replace

from onecard_payments.handlers.recovery import recover_payments

from tests.payments.helpers import bank, card, ctx, events_of, merchants, pay
from tests.payments.helpers import open_bill as open_bill_http
from tests.support.platform import RunningPlatform
from tests.support.waiting import eventually


async def test_a_late_bank_answer_is_resolved_by_a_status_query(embedded: RunningPlatform) -> None:
    merchant = await merchants(embedded)
    context = ctx(embedded)
    context.config = replace(context.config, bank_timeout_s=0.2, status_interval_s=0.05)
    # The debit becomes durable at once but the answer takes longer than our timeout.
    bank(embedded).rules = replace(bank(embedded).rules, answer_delay_s=1.0)
    paid = await pay(
        embedded, await open_bill_http(embedded, merchant, 900), {"method": "card_account", "card": card()}
    )
    assert paid.status_code == 201, paid.text
    assert paid.json()["status"] == "settled"
    assert len(await bank(embedded).ledger("debit")) == 1


async def test_recovery_finishes_initiated_payments_without_a_second_debit(embedded: RunningPlatform) -> None:
    merchant = await merchants(embedded)
    context = ctx(embedded)
    context.config = replace(context.config, bank_timeout_s=0.1, status_attempts=1, status_interval_s=0.01)
    # The bank never records the debit in time: the request ends with the payment pending.
    bank(embedded).rules = replace(bank(embedded).rules, latency_s=0.5)
    bill = await open_bill_http(embedded, merchant, 900)
    headers = {**embedded.admin, "Idempotency-Key": "pending-1"}
    body = {"method": "card_account", "card": card()}
    pending = await embedded.client.post(f"/payments/v1/bills/{bill}/payments", json=body, headers=headers)
    assert pending.status_code == 202 and pending.json()["status"] == "pending"
    retry = await embedded.client.post(f"/payments/v1/bills/{bill}/payments", json=body, headers=headers)
    assert retry.status_code == 409  # still in progress: never a second attempt
    assert (await pay(embedded, bill, {"method": "other"})).status_code == 409

    bank(embedded).rules = replace(bank(embedded).rules, latency_s=0.0)
    assert await recover_payments(context, older_than_s=0) == 1
    assert await recover_payments(context, older_than_s=0) == 0
    assert len(await bank(embedded).ledger("debit")) == 1
    again = await embedded.client.post(f"/payments/v1/bills/{bill}/payments", json=body, headers=headers)
    assert again.status_code == 201 and again.json()["status"] == "settled"
    assert again.json()["payment_id"] == pending.json()["payment_id"]
    types = [e.event_type for e in await events_of(embedded)]
    assert types.count("onecard.payments.payment_settled") == 1


async def test_the_recovery_worker_runs_by_itself(embedded: RunningPlatform) -> None:
    merchant = await merchants(embedded)
    context = ctx(embedded)
    context.config = replace(
        context.config, bank_timeout_s=0.1, status_attempts=1, recover_after_s=0.2, recovery_interval_s=0.1
    )
    bank(embedded).rules = replace(bank(embedded).rules, latency_s=0.3)
    paid = await pay(
        embedded, await open_bill_http(embedded, merchant, 900), {"method": "card_account", "card": card()}
    )
    assert paid.json()["status"] == "pending"
    bank(embedded).rules = replace(bank(embedded).rules, latency_s=0.0)  # the bank is back

    async def settled() -> bool:
        shown = await embedded.client.get(
            f"/payments/v1/payments/{paid.json()['payment_id']}", headers=embedded.admin
        )
        return bool(shown.json()["status"] == "settled")

    await eventually(settled, timeout=10)
    assert len(await bank(embedded).ledger("debit")) == 1

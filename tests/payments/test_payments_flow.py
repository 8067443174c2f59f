"""The main flow in both modes: bills paid by card account, e-card and otherwise; refunds;
reconciliation equal to what the events say."""

from __future__ import annotations

from collections import defaultdict

import pytest
from onecard_payments.domain.reconciliation import business_day

from tests.payments.helpers import WITH_IDENTITY, card, ecard_code, events_of, key, merchants, open_bill, pay
from tests.support.platform import RunningPlatform


@pytest.fixture
def services_under_test() -> tuple[str, ...]:
    return WITH_IDENTITY


async def test_main_flow(any_mode: RunningPlatform) -> None:
    running = any_mode
    merchant = await merchants(running, agreement=True)

    by_card = await pay(
        running,
        await open_bill(running, merchant, 1500),
        {"method": "card_account", "card": card(issuer_region="510104")},
    )  # a Sichuan card: cross-region
    assert by_card.status_code == 201, by_card.text
    assert by_card.json()["status"] == "settled" and by_card.json()["reason"] is None

    qr = await ecard_code(running)  # minted by identity for one of our cards
    by_ecard = await pay(running, await open_bill(running, merchant, 2500), {"method": "ecard", "qr": qr})
    assert by_ecard.status_code == 201, by_ecard.text
    assert by_ecard.json()["status"] == "settled"

    other = await pay(running, await open_bill(running, merchant, 800), {"method": "other"})
    assert other.json()["status"] == "settled"

    payment_id = by_card.json()["payment_id"]
    partial = await running.client.post(
        f"/payments/v1/payments/{payment_id}/refunds",
        json={"amount_fen": 500},
        headers={**running.admin, **key()},
    )
    assert partial.status_code == 201, partial.text
    assert partial.json()["refunded_fen"] == 500
    rest = await running.client.post(
        f"/payments/v1/payments/{payment_id}/refunds",
        json={"amount_fen": 1000},
        headers={**running.admin, **key()},
    )
    assert rest.status_code == 201 and rest.json()["refunded_fen"] == 1500

    shown = (await running.client.get(f"/payments/v1/payments/{payment_id}", headers=running.admin)).json()
    assert shown["status"] == "settled" and shown["refunded_fen"] == 1500 and len(shown["refunds"]) == 2

    events = await events_of(running)
    settled = {
        e.data["payment_id"]: e.data for e in events if e.event_type == "onecard.payments.payment_settled"
    }
    ecard = settled[by_ecard.json()["payment_id"]]
    assert (
        ecard["method"] == "ecard" and ecard["cross_region"] is False and ecard["agreement_merchant"] is True
    )
    assert ecard["issuer_region"] == "500103" and ecard["payer_key"]
    paid_by_card = settled[payment_id]
    assert paid_by_card["cross_region"] is True and paid_by_card["issuer_region"] == "510104"
    assert paid_by_card["item_id"] == "500000:80"
    assert paid_by_card["jurisdiction"] == "500106"
    assert settled[other.json()["payment_id"]]["payer_key"] is None
    types = [e.event_type for e in events]
    assert types.count("onecard.payments.payment_initiated") == 3
    assert types.count("onecard.payments.payment_refunded") == 2

    day = business_day(paid_by_card["settled_at"])
    report = await running.client.get(
        "/payments/v1/reconciliation", params={"date": day, "merchant_id": merchant}, headers=running.admin
    )
    assert report.status_code == 200, report.text
    assert report.json()["merchants"] == [_recomputed(events, day)[merchant]]
    assert report.json()["merchants"][0] == {
        "merchant_id": merchant,
        "settled_count": 3,
        "settled_fen": 4800,
        "refunded_fen": 1500,
        "net_fen": 3300,
    }

    metrics = (await running.client.get("/payments/metrics")).text
    assert 'onecard_payments_total{method="card_account",status="settled"} 1.0' in metrics
    assert 'onecard_payments_total{method="ecard",status="settled"} 1.0' in metrics


def _recomputed(events: list, day: str) -> dict[str, dict[str, object]]:  # type: ignore[type-arg]
    """Reconciliation straight from the events, independently of the read table."""
    totals: dict[str, dict[str, int]] = defaultdict(
        lambda: {"settled_count": 0, "settled_fen": 0, "refunded_fen": 0}
    )
    for e in events:
        d = e.data
        if e.event_type == "onecard.payments.payment_settled" and business_day(d["settled_at"]) == day:
            totals[d["merchant_id"]]["settled_count"] += 1
            totals[d["merchant_id"]]["settled_fen"] += d["amount_fen"]
        if e.event_type == "onecard.payments.payment_refunded" and business_day(d["refunded_at"]) == day:
            totals[d["merchant_id"]]["refunded_fen"] += d["amount_fen"]
    return {
        m: {"merchant_id": m, **t, "net_fen": t["settled_fen"] - t["refunded_fen"]} for m, t in totals.items()
    }

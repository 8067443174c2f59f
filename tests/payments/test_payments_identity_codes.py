"""E-card bill pull with identity's real codes, and card status from payments' view of identity.

Codes are minted by identity's API (register the card, issue the e-card, POST .../qr); payments
checks them with the signing key and card it projected from identity's events.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from onecard_events.consistency import HEADER
from onecard_events.model import utcnow

from tests.payments.helpers import (
    WITH_IDENTITY,
    card,
    ecard_code,
    merchants,
    mint,
    open_bill,
    pay,
    register_ecard,
)
from tests.support.platform import RunningPlatform


@pytest.fixture
def services_under_test() -> tuple[str, ...]:
    return WITH_IDENTITY


async def set_status(running: RunningPlatform, card_no: str, status: str) -> dict[str, str]:
    """Change the card's status at identity; returns headers that carry the change's consistency
    token, for a payment that must see it (a refusal would catch up by itself; an acceptance
    on a view that still says "active" would not)."""
    changed = await running.client.post(
        f"/identity/v1/cards/{card_no}/status", json={"status": status}, headers=running.admin
    )
    assert changed.status_code == 200, changed.text
    return {**running.admin, HEADER: changed.headers[HEADER]}


async def test_identity_codes_pay_once(any_mode: RunningPlatform) -> None:
    running = any_mode
    merchant = await merchants(running)
    qr = await ecard_code(running, 501)
    paid = await pay(running, await open_bill(running, merchant, 1200), {"method": "ecard", "qr": qr})
    assert paid.status_code == 201, paid.text
    assert paid.json()["status"] == "settled" and paid.json()["reason"] is None

    again = await pay(running, await open_bill(running, merchant), {"method": "ecard", "qr": qr})
    assert again.json() | {"payment_id": None, "bill_id": None} == {
        "payment_id": None,
        "bill_id": None,
        "status": "declined",
        "reason": "qr_reused",
    }

    # Two bills racing for one fresh code: exactly one is paid.
    fresh = await mint(running, await register_ecard(running, 501))
    bills = [await open_bill(running, merchant) for _ in range(2)]
    raced = await asyncio.gather(*(pay(running, b, {"method": "ecard", "qr": fresh}) for b in bills))
    assert sorted(r.json()["status"] for r in raced) == ["declined", "settled"]
    assert {r.json()["reason"] for r in raced} == {None, "qr_reused"}


async def test_bad_expired_and_malformed_codes_are_declined(any_mode: RunningPlatform) -> None:
    running = any_mode
    merchant = await merchants(running)
    card_no = await register_ecard(running, 502)
    qr = await mint(running, card_no)
    head, body, signature = qr.split(".")
    forged = f"{head}.{body}.{signature[:10]}{'A' if signature[10] != 'A' else 'B'}{signature[11:]}"
    bad = await pay(running, await open_bill(running, merchant), {"method": "ecard", "qr": forged})
    assert bad.json()["reason"] == "qr_bad_signature"
    assert (await pay(running, await open_bill(running, merchant), {"method": "ecard", "qr": "x.y"})).json()[
        "reason"
    ] == "qr_malformed"

    identity = running.runtime("identity").app.state.identity
    identity.clock = lambda: utcnow() - timedelta(seconds=120)
    try:
        stale = await mint(running, card_no)
    finally:
        identity.clock = utcnow
    expired = await pay(running, await open_bill(running, merchant), {"method": "ecard", "qr": stale})
    assert expired.json()["reason"] == "qr_expired"

    # The refusals did not use up the genuine code.
    good = await pay(running, await open_bill(running, merchant), {"method": "ecard", "qr": qr})
    assert good.json()["status"] == "settled"


async def test_lost_and_cancelled_cards_are_declined(embedded: RunningPlatform) -> None:
    running = embedded
    merchant = await merchants(running)
    card_no = await register_ecard(running, 503)
    holder = {**card(503), "card_no": card_no}
    pending_code = await mint(running, card_no)  # shown before the card was reported lost

    seen_lost = await set_status(running, card_no, "lost")
    lost = await pay(
        running, await open_bill(running, merchant), {"method": "card_account", "card": holder}, seen_lost
    )
    assert lost.json()["status"] == "declined" and lost.json()["reason"] == "card_lost"
    by_code = await pay(running, await open_bill(running, merchant), {"method": "ecard", "qr": pending_code})
    assert by_code.json()["reason"] == "card_lost"
    # The code counted as used even though the card refused it.
    replay = await pay(running, await open_bill(running, merchant), {"method": "ecard", "qr": pending_code})
    assert replay.json()["reason"] == "qr_reused"

    await set_status(running, card_no, "active")  # the view still says lost: payments catches up
    found = await pay(running, await open_bill(running, merchant), {"method": "card_account", "card": holder})
    assert found.json()["status"] == "settled"

    seen_cancelled = await set_status(running, card_no, "cancelled")
    cancelled = await pay(
        running,
        await open_bill(running, merchant),
        {"method": "card_account", "card": holder},
        seen_cancelled,
    )
    assert cancelled.json()["reason"] == "card_cancelled"
    # A card identity never registered (another region's, or not yet known) is left to the bank.
    unknown = await pay(
        running, await open_bill(running, merchant), {"method": "card_account", "card": card(9)}
    )
    assert unknown.json()["status"] == "settled"

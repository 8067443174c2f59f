"""Shared helpers of the payments tests: merchants, cards, e-card codes, the service context."""

from __future__ import annotations

import uuid
from typing import Any

from onecard_catalog.domain.events import MerchantJoinedAgreement, MerchantRegistered
from onecard_events.tables import events
from onecard_payments.adapters.simulated_bank import SimulatedCardBank
from onecard_payments.handlers.context import PaymentsContext
from onecard_service.auth import Principal
from sqlalchemy import select

from tests.support import people
from tests.support.catalogue import seed_catalog
from tests.support.platform import RunningPlatform, token_for

# The services a test module runs when it pays by e-card: identity mints the codes.
WITH_IDENTITY = ("catalog", "identity", "payments")

ITEM = "500000:80"
JURISDICTION = "500106"


BORN = "19900307"


def ssn(seq: int = 123, region: str = "500103") -> str:
    return people.ssn(seq, region, BORN)


def card(seq: int = 123, issuer_region: str = "500103") -> dict[str, str]:
    return people.card(seq, issuer_region, prefix="A", name="张三丰", born=BORN)


def ctx(running: RunningPlatform) -> PaymentsContext:
    context: PaymentsContext = running.runtime("payments").app.state.payments
    return context


def bank(running: RunningPlatform) -> SimulatedCardBank:
    sim = ctx(running).bank
    assert isinstance(sim, SimulatedCardBank)
    return sim


async def register_ecard(running: RunningPlatform, seq: int = 321, issuer_region: str = "500103") -> str:
    """Register card E<seq> with identity and issue its e-card; returns the card number."""
    holder = {**card(seq, issuer_region), "card_no": f"E{seq:08d}"}
    registered = await running.client.post("/identity/v1/cards", json=holder, headers=running.admin)
    assert registered.status_code in (201, 409), registered.text
    issued = await running.client.post(f"/identity/v1/cards/{holder['card_no']}/ecard", headers=running.admin)
    assert issued.status_code in (200, 201), issued.text
    return holder["card_no"]


async def mint(running: RunningPlatform, card_no: str) -> str:
    """A dynamic code from identity's API. Payments may not have the card or the key in its view
    yet: it catches up before it would refuse the code on identity's word."""
    minted = await running.client.post(f"/identity/v1/cards/{card_no}/qr", headers=running.admin)
    assert minted.status_code in (200, 201), minted.text
    return str(minted.json()["qr"])


async def ecard_code(running: RunningPlatform, seq: int = 321, issuer_region: str = "500103") -> str:
    """An e-card code minted by identity for card E<seq> (registered and issued on first use)."""
    return await mint(running, await register_ecard(running, seq, issuer_region))


async def merchants(running: RunningPlatform, *, agreement: bool = True) -> str:
    merchant_id = f"m-{uuid.uuid4().hex[:8]}"
    events: list[Any] = [
        MerchantRegistered(
            merchant_id=merchant_id, name="沙坪坝图书馆", jurisdiction=JURISDICTION, item_id=ITEM
        )
    ]
    if agreement:
        events.append(MerchantJoinedAgreement(merchant_id=merchant_id))
    await seed_catalog(running, *events)
    return merchant_id


def merchant_headers(running: RunningPlatform, *merchant_ids: str) -> dict[str, str]:
    return token_for(
        running, Principal(f"c-{uuid.uuid4().hex[:6]}", "merchant", merchants=frozenset(merchant_ids))
    )


def key() -> dict[str, str]:
    return {"Idempotency-Key": uuid.uuid4().hex}


async def open_bill(
    running: RunningPlatform, merchant_id: str, amount_fen: int = 1500, headers: dict[str, str] | None = None
) -> str:
    response = await running.client.post(
        "/payments/v1/bills",
        json={
            "merchant_id": merchant_id,
            "bill_ref": uuid.uuid4().hex[:12],
            "amount_fen": amount_fen,
            "description": "借阅逾期费",
        },
        headers=headers or running.admin,
    )
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "open"
    return str(response.json()["bill_id"])


async def pay(
    running: RunningPlatform, bill_id: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Any:
    return await running.client.post(
        f"/payments/v1/bills/{bill_id}/payments", json=body, headers={**(headers or running.admin), **key()}
    )


async def events_of(running: RunningPlatform, prefix: str = "onecard.payments.") -> list[Any]:
    """Every payments event committed so far. Read from the table, not with store.read_all: that
    stops below the cluster-wide snapshot xmin, so on a busy shared server it lags the commits."""
    store = ctx(running).store
    async with store.db.engine.connect() as conn:
        rows = (await conn.execute(select(events).order_by(events.c.position))).mappings().all()
    return [store._record(r) for r in rows if str(r["event_type"]).startswith(prefix)]

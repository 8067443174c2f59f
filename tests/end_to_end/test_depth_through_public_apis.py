"""The whole platform through its public APIs, in both modes: a known world is built the way venue
systems, merchants, administrators and the bank's callback build it, and the reporting service's
depth and cross-region figures are checked against values computed by hand below.

World (district 500106, this year Y in China Standard Time):
- item LIB (identity + payment, plan Y: level 2): venues V1..V4. V1 has a terminal for both card forms,
  V2 one for the physical card, V3's only terminal is decommissioned, V4 has none.
  identity = 2 of 4 venues accept the card -> 0.5 -> level 1, behind plan 2.
  Merchants M1 (in the e-card agreement) and M2 (not); a bill at M2 paid from the card account
  (level 1) and a bill at M1 paid with an e-card code minted by identity (level 2); agreement
  share 1 of 2; planned 2 -> met. Overall: the lowest, level 1, behind.
  Verifications at V1: a Chongqing card, a Sichuan card (inbound cross-region use), and a refused
  unknown card (not counted).
- item AID (disbursement, plan Y: level 1): one batch, payees A and B to the card account, C to
  another account (all paid), D to the card account but failed by the bank.
  paid beneficiaries 3, through the card account 2 -> 0.6667 -> level 1, met.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from onecard_service.auth import Principal

from tests.support import people
from tests.support.platform import RunningPlatform, token_for
from tests.support.waiting import eventually

Y = str(datetime.now(UTC).astimezone(timezone(timedelta(hours=8))).year)
LIB, AID = "500106:801", "500106:802"


def ssn(serial: int, region: str = "500106") -> str:
    return people.ssn(serial, region, born="19800101")


def card(n: int, region: str = "500106") -> dict[str, str]:
    return people.card(n, region, prefix="E2E", digits=6, name="测试人", born="19800101")


async def ok(response: Any, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json() if response.content else {}
    return body


async def build_catalogue(p: RunningPlatform) -> None:
    post = p.client.post
    for item_id, categories, plan, department in (
        (LIB, ["identity", "payment"], 2, "区文化旅游委"),
        (AID, ["disbursement"], 1, "区民政局"),
    ):
        body = {
            "item_id": item_id,
            "kind": "service",
            "name": f"端到端事项 {item_id}",
            "description": "end-to-end test item",
            "department": department,
            "card_forms": ["physical", "electronic"],
            "categories": categories,
            "plan": {Y: plan},
        }
        await ok(await post("/catalog/v1/items", json=body, headers=p.admin))
    for venue in ("V1", "V2", "V3", "V4"):
        body = {"venue_id": venue, "name": f"图书馆 {venue}", "jurisdiction": "500106", "item_id": LIB}
        await ok(await post("/catalog/v1/venues", json=body, headers=p.admin))
    for venue, terminal, forms in (
        ("V1", "T1", ["physical", "electronic"]),
        ("V2", "T2", ["physical"]),
        ("V3", "T3", ["physical"]),
    ):
        body = {"terminal_id": terminal, "card_forms": forms}
        await ok(await post(f"/catalog/v1/venues/{venue}/terminals", json=body, headers=p.admin))
    await ok(await p.client.delete("/catalog/v1/venues/V3/terminals/T3", headers=p.admin), 204)
    for merchant in ("M1", "M2"):
        body = {"merchant_id": merchant, "name": f"商户 {merchant}", "jurisdiction": "500106", "item_id": LIB}
        await ok(await post("/catalog/v1/merchants", json=body, headers=p.admin))
    response = await p.client.put("/catalog/v1/merchants/M1/ecard-agreement", headers=p.admin)
    assert response.status_code in (200, 204), response.text


async def when_served(check: Any, timeout: float = 60) -> Any:
    """The services follow the catalogue asynchronously: retry a request until it is accepted."""
    return await eventually(check, timeout=timeout, interval=0.2)


async def use_cards(p: RunningPlatform) -> None:
    # Only Chongqing's cards are registered here; a Sichuan card is accepted when well formed and
    # not on Sichuan's hotlist.
    await ok(await p.client.post("/identity/v1/cards", json=card(1), headers=p.admin))
    venue = token_for(p, Principal("e2e-venue", "venue", venues=frozenset({"V1"})))

    async def verify(c: dict[str, str]) -> dict[str, Any] | None:
        body = {"venue_id": "V1", "terminal_id": "T1", "method": "physical", "card": c}
        response = await p.client.post("/identity/v1/verifications", json=body, headers=venue)
        if response.status_code != 200 or response.json()["reason"] == "no_terminal":
            return None  # the identity service has not seen the venue's terminal yet
        result: dict[str, Any] = response.json()
        return result

    chongqing = await when_served(lambda: verify(card(1)))
    sichuan = await when_served(lambda: verify(card(2, "510100")))
    unknown = await when_served(lambda: verify(card(3)))
    assert (chongqing["verified"], chongqing["cross_region"]) == (True, False)
    assert (sichuan["verified"], sichuan["cross_region"]) == (True, True)
    assert (unknown["verified"], unknown["reason"]) == (False, "unknown_card")


async def pay_fees(p: RunningPlatform) -> None:
    async def open_bill() -> str | None:
        body = {"merchant_id": "M2", "bill_ref": "fee-1", "amount_fen": 500, "description": "逾期费"}
        response = await p.client.post("/payments/v1/bills", json=body, headers=p.admin)
        return str(response.json()["bill_id"]) if response.status_code == 201 else None

    bill_id = await when_served(open_bill)
    paid = await ok(
        await p.client.post(
            f"/payments/v1/bills/{bill_id}/payments",
            json={"method": "card_account", "card": card(1)},
            headers={**p.admin, "Idempotency-Key": uuid.uuid4().hex},
        )
    )
    assert paid["status"] == "settled", paid

    # The e-card: issued by identity, its dynamic code pulled up and paid at the agreement merchant.
    await ok(await p.client.post(f"/identity/v1/cards/{card(1)['card_no']}/ecard", headers=p.admin), 200)

    async def pay_by_code() -> dict[str, Any] | None:
        # Payments learns cards and signing keys from identity's events; until it has, a code is
        # refused (and used up), so each attempt takes a fresh code and a fresh bill.
        body = {
            "merchant_id": "M1",
            "bill_ref": uuid.uuid4().hex[:8],
            "amount_fen": 300,
            "description": "门票",
        }
        bill = await p.client.post("/payments/v1/bills", json=body, headers=p.admin)
        if bill.status_code != 201:
            return None
        qr = (await p.client.post(f"/identity/v1/cards/{card(1)['card_no']}/qr", headers=p.admin)).json()[
            "qr"
        ]
        response = await p.client.post(
            f"/payments/v1/bills/{bill.json()['bill_id']}/payments",
            json={"method": "ecard", "qr": qr},
            headers={**p.admin, "Idempotency-Key": uuid.uuid4().hex},
        )
        result: dict[str, Any] = response.json()
        return result if result.get("status") == "settled" else None

    await when_served(pay_by_code)


async def disburse(p: RunningPlatform) -> None:
    async def create_program() -> bool:
        body = {"program_id": "P-E2E", "item_id": AID, "name": "补贴", "jurisdiction": "500106"}
        response = await p.client.post("/disbursement/v1/programs", json=body, headers=p.admin)
        return response.status_code == 201

    await when_served(create_program)
    payees = [
        {"reference_id": "A", "channel": "card_account"},
        {"reference_id": "B", "channel": "card_account"},
        {"reference_id": "C", "channel": "other_account"},
        {"reference_id": "D-FAIL", "channel": "card_account"},
    ]
    rows = [
        {**payee, "ssn": ssn(10 + i), "card_no": f"E2F{i:06d}", "name": "受益人", "amount_fen": 10_000}
        for i, payee in enumerate(payees)
    ]
    batch = {
        "batch_id": "B-E2E",
        "program_id": "P-E2E",
        "period": f"{Y}-06",
        "control_count": 4,
        "control_total_fen": 40_000,
    }
    headers = {**p.admin, "Idempotency-Key": uuid.uuid4().hex}
    await ok(await p.client.post("/disbursement/v1/batches", json=batch, headers=headers))
    added = await ok(
        await p.client.post("/disbursement/v1/batches/B-E2E/payees", json={"payees": rows}, headers=p.admin),
        200,
    )
    assert added["accepted"] == 4, added
    await ok(await p.client.post("/disbursement/v1/batches/B-E2E/submit", headers=p.admin), 202)

    async def completed() -> dict[str, Any] | None:
        status = (await p.client.get("/disbursement/v1/batches/B-E2E", headers=p.admin)).json()
        return status if status["status"] == "completed" else None

    final = await eventually(completed, timeout=60)
    assert (final["paid"], final["failed"]) == (3, 1), final


EXPECTED = {
    (LIB, "identity"): (2, 4, 0.5, 1, 2, "behind"),
    (LIB, "payment"): (1, 2, 0.5, 2, 2, "met"),
    (LIB, "overall"): (None, None, None, 1, 2, "behind"),
    (AID, "disbursement"): (2, 3, 0.6667, 1, 1, "met"),
    (AID, "overall"): (None, None, None, 1, 1, "met"),
}


def figures(rows: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[Any, ...]]:
    out = {}
    for r in rows:
        if r["item_id"] in (LIB, AID) and r["jurisdiction"] == "500106":
            ratio = round(r["ratio"], 4) if r["ratio"] is not None else None
            numbers = (
                (None, None, None)
                if r["category"] == "overall"
                else (r["numerator"], r["denominator"], ratio)
            )
            out[(r["item_id"], r["category"])] = (*numbers, r["level"], r["planned_level"], r["status"])
    return out


async def build_world(p: RunningPlatform) -> None:
    """The catalogue, card uses, fee payments and a disbursement batch, through the public APIs."""
    await build_catalogue(p)
    await use_cards(p)
    await pay_fees(p)
    await disburse(p)


async def test_depth_and_cross_region_through_public_apis(any_mode: RunningPlatform) -> None:
    p = any_mode
    await build_world(p)

    last: dict[tuple[str, str], tuple[Any, ...]] = {}

    async def depth_as_expected() -> bool:
        nonlocal last
        response = await p.client.get(
            "/reporting/v1/depth", params={"jurisdiction": "500106", "year": Y}, headers=p.admin
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert {"as_of", "lag_seconds", "rows"} <= set(body)
        last = figures(body["rows"])
        return last == EXPECTED

    try:
        await eventually(depth_as_expected, timeout=90, interval=0.5)
    except AssertionError:
        raise AssertionError(f"depth rows differ: got {last}, expected {EXPECTED}") from None

    response = await p.client.get(
        "/reporting/v1/cross-region", params={"partner": "510000", "jurisdiction": "500106"}, headers=p.admin
    )
    rows = {r["item_id"]: r for r in response.json()["rows"]}
    assert (rows[LIB]["inbound"], rows[LIB]["outbound"], rows[LIB]["department"]) == (1, 0, "区文化旅游委")

    # A department credential sees its own department's rows only.
    culture = token_for(p, Principal("e2e-dept", "department", department="区文化旅游委"))
    response = await p.client.get("/reporting/v1/depth", params={"year": Y}, headers=culture)
    assert response.status_code == 200, response.text
    assert {r["department"] for r in response.json()["rows"]} == {"区文化旅游委"}

"""A known world for the reporting tests: catalogue, card use and payouts, with hand-computed depth.

Built from the producing services' own event classes, so these tests follow their contract.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from onecard_catalog.domain import events as catalog
from onecard_disbursement.domain.events import PayeeSettled
from onecard_events.model import DomainEvent, NewEvent
from onecard_identity.domain.events import VerificationRecorded
from onecard_payments.domain.events import PaymentDeclined, PaymentSettled
from onecard_reporting.domain.events import PartnerCardUsed
from onecard_reporting.domain.levels import local_year

from tests.support.catalogue import seed_catalog
from tests.support.platform import RunningPlatform

NOW = datetime.now(UTC)
YEAR = local_year(NOW)
LIBRARY, HOSPITAL, PENSION = "500000:930", "500106:905", "500000:902"
SUPPORT, RETIRED = "500000:990", "500155:A999"
OURS = {LIBRARY, HOSPITAL, PENSION, SUPPORT, RETIRED}


def at(delta: timedelta = timedelta()) -> str:
    return (NOW - delta).isoformat().replace("+00:00", "Z")


def item(
    item_id: str, name: str, department: str, categories: list[str], plan: dict[str, int], **kw: Any
) -> dict[str, Any]:
    jurisdiction, _, seq = item_id.partition(":")
    return {
        "item_id": item_id,
        "jurisdiction": jurisdiction,
        "seq": int(seq) if seq.isdigit() else seq,
        "kind": kw.pop("kind", "service"),
        "name": name,
        "department": department,
        "cooperating_departments": [],
        "card_forms": kw.pop("card_forms", ["physical", "electronic"]),
        "categories": categories,
        "plan": plan,
        "plan_note": kw.pop("plan_note", None),
        "status": "active",
        **kw,
    }


def catalogue() -> list[DomainEvent]:
    y = str(YEAR)
    hospital_v1 = item(HOSPITAL, "旧名称", "测试卫生健康委", ["identity", "payment"], {y: 2})
    return [
        catalog.ItemPublished(
            item=item(LIBRARY, "图书馆入馆、借阅", "测试文化旅游委", ["identity"], {y: 2}),
            version=1,
            valid_from="2024-01-01",
        ),
        catalog.ItemPublished(item=hospital_v1, version=1, valid_from="2020-01-01"),
        catalog.ItemPublished(
            item={**hospital_v1, "name": "医院就诊缴费"}, version=2, valid_from="2021-01-01T00:00:00Z"
        ),
        catalog.ItemPublished(item={**hospital_v1, "name": "未来的名称"}, version=3, valid_from="2999-01-01"),
        catalog.ItemPublished(
            item=item(
                PENSION,
                "社会保险待遇领取",
                "测试人社局",
                ["disbursement"],
                {},
                plan_note="逐步推进",
                card_forms=["physical"],
            ),
            version=1,
            valid_from="2024-01-01",
        ),
        catalog.ItemPublished(
            item=item(SUPPORT, "立法保障", "市司法局", [], {}, kind="support"),
            version=1,
            valid_from="2024-01-01",
        ),
        catalog.ItemPublished(
            item=item(RETIRED, "已退出事项", "梁平区人社局", ["identity"], {y: 1}),
            version=1,
            valid_from="2024-01-01",
        ),
        catalog.ItemRetired(item_id=RETIRED, version=2, valid_from="2025-01-01"),
        # library venues: two in 500106 (both accepting), two in 500111 (none), one municipal
        catalog.VenueRegistered(venue_id="VA1", name="沙坪坝图书馆", jurisdiction="500106", item_id=LIBRARY),
        catalog.VenueRegistered(venue_id="VA2", name="沙坪坝分馆", jurisdiction="500106", item_id=LIBRARY),
        catalog.VenueRegistered(venue_id="VA3", name="大足图书馆", jurisdiction="500111", item_id=LIBRARY),
        catalog.VenueRegistered(venue_id="VA4", name="大足分馆", jurisdiction="500111", item_id=LIBRARY),
        catalog.VenueRegistered(venue_id="VA5", name="重庆图书馆", jurisdiction="500000", item_id=LIBRARY),
        catalog.TerminalDeployed(venue_id="VA1", terminal_id="T1", card_forms=["physical", "electronic"]),
        catalog.TerminalDeployed(venue_id="VA2", terminal_id="T2", card_forms=["electronic"]),
        catalog.TerminalDeployed(venue_id="VA3", terminal_id="T3", card_forms=["physical"]),
        catalog.TerminalDecommissioned(venue_id="VA3", terminal_id="T3"),
        catalog.TerminalDeployed(venue_id="VA5", terminal_id="T5", card_forms=["physical"]),
        # hospital: one venue, three merchants (one in the e-card agreement)
        catalog.VenueRegistered(venue_id="VB1", name="沙坪坝医院", jurisdiction="500106", item_id=HOSPITAL),
        catalog.TerminalDeployed(venue_id="VB1", terminal_id="TB1", card_forms=["physical"]),
        *(
            catalog.MerchantRegistered(merchant_id=m, name=name, jurisdiction="500106", item_id=HOSPITAL)
            for m, name in (("MB1", "医院收费处"), ("MB2", "医院药房"), ("MB3", "医院食堂"))
        ),
        catalog.MerchantJoinedAgreement(merchant_id="MB1"),
        catalog.MerchantJoinedAgreement(merchant_id="MB3"),
        catalog.MerchantLeftAgreement(merchant_id="MB3"),
    ]


def verification(
    venue: str, jurisdiction: str, verified: bool, issuer: str, days: float, item_id: str = LIBRARY
) -> VerificationRecorded:
    partner = issuer[:2] + "0000" if not issuer.startswith("50") else None
    return VerificationRecorded(
        verification_id=uuid.uuid4().hex,
        venue_id=venue,
        terminal_id="T",
        item_id=item_id,
        jurisdiction=jurisdiction,
        method="physical",
        verified=verified,
        reason=None if verified else "card_lost",
        issuer_region=issuer,
        cross_region=partner is not None,
        partner_region=partner,
        holder_key=f"hk-{uuid.uuid4().hex[:8]}",
        occurred_at=at(timedelta(days=days)),
    )


def identity_events() -> list[DomainEvent]:
    return [
        verification("VA1", "500106", True, "500106", 2),
        verification("VA1", "500106", True, "510100", 1),  # Sichuan card here: inbound
        verification("VA2", "500106", True, "510100", 1),  # inbound
        verification("VA1", "500106", False, "510100", 1),  # refused: not a use
        verification("VA5", "500000", True, "500000", 40),  # outside the 30-day window
        verification("VA4", "500111", False, "500111", 1),  # refused: not active
    ]


def payment(merchant: str, method: str, agreement: bool, **fields: Any) -> PaymentSettled:
    """A settled payment at the hospital (by default), three hours ago."""
    return PaymentSettled(
        **{
            "payment_id": uuid.uuid4().hex,
            "bill_id": uuid.uuid4().hex,
            "merchant_id": merchant,
            "item_id": HOSPITAL,
            "jurisdiction": "500106",
            "method": method,
            "amount_fen": 1200,
            "payer_key": "pk",
            "issuer_region": "500106",
            "cross_region": False,
            "agreement_merchant": agreement,
            "settled_at": at(timedelta(hours=3)),
            **fields,
        }
    )


def payment_events() -> list[DomainEvent]:
    return [
        payment("MB2", "card_account", False),
        payment("MB1", "ecard", True),
        payment("MB2", "other", False),
        PaymentDeclined(
            payment_id="p-x",
            bill_id="b-x",
            merchant_id="MB3",
            item_id=HOSPITAL,
            jurisdiction="500106",
            method="card_account",
            amount_fen=5,
            reason="insufficient_funds",
            declined_at=at(),
        ),
    ]


def payee(
    ref: str, jurisdiction: str, beneficiary: str, channel: str, outcome: str, hours: float = 2
) -> PayeeSettled:
    return PayeeSettled(
        batch_id=f"batch-{jurisdiction}",
        program_id="pension",
        item_id=PENSION,
        jurisdiction=jurisdiction,
        period=f"{YEAR}-01",
        reference_id=ref,
        beneficiary_key=beneficiary,
        channel=channel,
        amount_fen=10000,
        outcome=outcome,
        reason="" if outcome == "paid" else "bank",
        settled_at=at(timedelta(hours=hours)),
    )


def payee_events() -> list[DomainEvent]:
    return [
        payee("r1", "500106", "ben1", "card_account", "paid"),
        payee("r2", "500106", "ben2", "card_account", "paid"),
        payee("r3", "500106", "ben3", "cash", "paid"),
        payee("r4", "500111", "ben4", "card_account", "returned"),
        payee("r5", "500111", "ben5", "other_account", "paid"),
        payee("r6", "500111", "ben6", "card_account", "paid", hours=3),
        payee("r6", "500111", "ben6", "card_account", "returned", hours=1),  # the bank returned it later
        payee("r7", "500111", "ben1", "other_account", "paid"),
        payee("r8", "500111", "ben7", "card_account", "failed"),
    ]


def outbound_events() -> list[DomainEvent]:
    """Sichuan reported two uses of Chongqing cards (issued in 500106) for the library item."""
    return [
        PartnerCardUsed(
            region="510000",
            partner_event_id=f"sc-{n}",
            kind="verification",
            item_id=LIBRARY,
            issuer_region="500106",
            method="electronic",
            holder_ref=None,
            occurred_at=at(),
        )
        for n in range(2)
    ]


async def record(running: RunningPlatform, service: str, events: list[DomainEvent]) -> None:
    runtime = running.runtime(service)
    async with runtime.db.engine.begin() as conn:
        for event in events:
            await runtime.store.append(conn, f"{service}-{uuid.uuid4().hex}", [NewEvent(event)])


async def build_world(running: RunningPlatform) -> None:
    await seed_catalog(running, *catalogue())
    await record(running, "identity", identity_events())
    await record(running, "payments", payment_events())
    await record(running, "disbursement", payee_events())
    await record(running, "reporting", outbound_events())


def row(
    item_id: str,
    jurisdiction: str,
    category: str,
    num: int | None,
    den: int | None,
    level: int,
    planned: int | None,
    status: str,
) -> dict[str, Any]:
    ratio = round(num / den, 4) if num is not None and den else None
    return {
        "item_id": item_id,
        "jurisdiction": jurisdiction,
        "category": category,
        "numerator": num,
        "denominator": den,
        "ratio": ratio,
        "level": level,
        "planned_level": planned,
        "status": status,
    }


EXPECTED_DEPTH = [
    # library 500000:30, plan 2: 3 of 5 venues accept the card (VA3's terminal is decommissioned)
    row(LIBRARY, "500000", "identity", 3, 5, 1, 2, "behind"),
    row(LIBRARY, "500000", "overall", None, None, 1, 2, "behind"),
    row(LIBRARY, "500106", "identity", 2, 2, 3, 2, "met"),
    row(LIBRARY, "500106", "overall", None, None, 3, 2, "met"),
    row(LIBRARY, "500111", "identity", 0, 2, 0, 2, "behind"),
    row(LIBRARY, "500111", "overall", None, None, 0, 2, "behind"),
    # pension 500000:2, text plan: card account 2 of 4 paid beneficiaries (municipal), 2/3, 0/2
    row(PENSION, "500000", "disbursement", 2, 4, 1, None, "no_plan"),
    row(PENSION, "500000", "overall", None, None, 1, None, "no_plan"),
    row(PENSION, "500106", "disbursement", 2, 3, 1, None, "no_plan"),
    row(PENSION, "500106", "overall", None, None, 1, None, "no_plan"),
    row(PENSION, "500111", "disbursement", 0, 2, 0, None, "no_plan"),
    row(PENSION, "500111", "overall", None, None, 0, None, "no_plan"),
    # hospital 500106:5, plan 2: one venue accepting; payment level 2 (agreement e-card), 1 of 3 merchants
    row(HOSPITAL, "500106", "identity", 1, 1, 3, 2, "met"),
    row(HOSPITAL, "500106", "payment", 1, 3, 2, 2, "met"),
    row(HOSPITAL, "500106", "overall", None, None, 2, 2, "met"),
]


async def world_in_place_events(running: RunningPlatform) -> None:
    """The known world recorded (without waiting for the reports)."""
    await build_world(running)

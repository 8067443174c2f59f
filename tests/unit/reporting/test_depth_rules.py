"""The depth reports computed from a hand-built snapshot (pure: no database, no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from onecard_events.model import Position, RecordedEvent
from onecard_reporting.domain.depth import (
    Filters,
    cross_region_rows,
    depth_rows,
    progress_rows,
    progress_summary,
)
from onecard_reporting.domain.facts import ROLLUP, MerchantFacts, PaymentFirsts, Snapshot, VenueFacts
from onecard_reporting.domain.partners import partner_of

NOW = datetime(2025, 6, 1, tzinfo=UTC)
LIBRARY, HOSPITAL = "500000:930", "500106:905"


def snapshot() -> Snapshot:
    jan = datetime(2024, 1, 1, tzinfo=UTC)
    library = {
        "item_id": LIBRARY,
        "jurisdiction": "500000",
        "name": "图书馆",
        "department": "文旅委",
        "categories": ["identity"],
        "card_forms": ["physical", "electronic"],
        "plan": {"2025": 2},
    }
    hospital = {
        **library,
        "item_id": HOSPITAL,
        "jurisdiction": "500106",
        "categories": ["identity", "payment"],
    }
    snap = Snapshot(as_of=NOW, now=NOW)
    snap.items = {LIBRARY: [(jan, 1, False, library)], HOSPITAL: [(jan, 1, False, hospital)]}
    snap.venues = {
        (LIBRARY, "500106"): VenueFacts(venues=2, accepting=2, physical=1, electronic=2, active=1),
        (LIBRARY, "500111"): VenueFacts(venues=2),
        (HOSPITAL, "500106"): VenueFacts(venues=1, accepting=1, physical=1, electronic=0, active=0),
    }
    snap.merchants = {(HOSPITAL, "500106"): MerchantFacts(merchants=3, agreement=1)}
    snap.payments = {(HOSPITAL, "500106"): PaymentFirsts(card_account_at=NOW - timedelta(days=1))}
    snap.beneficiaries = {(LIBRARY, ROLLUP, 2025): (0, 0)}
    snap.uses = {("510000", "inbound", LIBRARY, "500106"): 2, ("510000", "outbound", LIBRARY, "500106"): 1}
    return snap.index()


def levels(rows: list[dict[str, object]]) -> list[tuple[object, ...]]:
    return [(r["item_id"], r["jurisdiction"], r["category"], r["level"], r["status"]) for r in rows]


def test_a_municipal_item_rolls_up_its_districts_and_lists_each() -> None:
    rows = depth_rows(snapshot(), Filters(2025, item_id=LIBRARY, category="identity"))
    assert levels(rows) == [
        (LIBRARY, "500000", "identity", 1, "behind"),  # 2 of 4 venues
        (LIBRARY, "500106", "identity", 3, "met"),
        (LIBRARY, "500111", "identity", 0, "behind"),
    ]


def test_the_overall_level_is_the_lowest_category() -> None:
    rows = depth_rows(snapshot(), Filters(2025, item_id=HOSPITAL))
    assert levels(rows) == [
        (HOSPITAL, "500106", "identity", 3, "met"),
        (HOSPITAL, "500106", "payment", 1, "behind"),  # card account only, no agreement e-card
        (HOSPITAL, "500106", "overall", 1, "behind"),
    ]


def test_progress_per_card_form() -> None:
    rows = progress_rows(snapshot(), Filters(2025))
    hospital = next(r for r in rows if r["item_id"] == HOSPITAL)
    assert (hospital["physical_level"], hospital["ecard_level"]) == (1, 0)
    assert progress_summary(rows) == {"items": 2, "planned": 2, "met": 0, "progress": 0.0}


def test_cross_region_counts_both_directions() -> None:
    rows = cross_region_rows(snapshot(), "510000", "500000", lambda _d: True)
    assert [(r["item_id"], r["inbound"], r["outbound"]) for r in rows] == [(LIBRARY, 2, 1)]


def test_partner_of_a_cross_region_event() -> None:
    def event(event_type: str, **data: object) -> RecordedEvent:
        return RecordedEvent(
            event_id="e",
            stream_id="s",
            stream_version=1,
            event_type=event_type,
            schema_version=1,
            data=data,
            metadata={},
            recorded_at=NOW,
            position=Position(),
        )

    paid = "onecard.payments.payment_settled"
    assert partner_of(event(paid, cross_region=True, issuer_region="510104"), ["510000"]) == "510000"
    assert partner_of(event(paid, cross_region=True, issuer_region="520100"), ["510000"]) is None
    assert partner_of(event(paid, cross_region=False, issuer_region="510104"), ["510000"]) is None

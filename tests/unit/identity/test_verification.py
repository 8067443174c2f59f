"""Verification decisions without a platform: origin of a card, the refusal each check earns, in
the order the reasons are reported, and the recorded event's fields."""

from __future__ import annotations

from dataclasses import replace

import pytest
from onecard_identity.domain import verification as v

from tests.support import people

SSN = people.ssn(12)
CARD = v.CardRecord("k1", "500106", "active", True, "ssn-hash", "holder")


def test_origin_own_partner_or_foreign() -> None:
    partners = ("510000",)
    assert v.origin_of("500106", "500000", partners).kind == "own"
    partner = v.origin_of("510100", "500000", partners)
    assert (partner.kind, partner.partner_region) == ("partner", "510000")
    assert v.origin_of("440100", "500000", partners).kind == "foreign"


@pytest.mark.parametrize(
    ("ssn", "card_no", "region", "reason"),
    [
        (SSN[:17] + ("1" if SSN[17] != "1" else "2"), "R12345678", "500106", "invalid_ssn"),
        (SSN, "r1234567", "500106", "invalid_card"),
        (SSN, "R12345678", "5001", "invalid_card"),
        (SSN, "R12345678", "500106", None),
    ],
)
def test_physical_format(ssn: str, card_no: str, region: str, reason: str | None) -> None:
    assert v.physical_format_refusal(card_no, ssn, region) == reason


def test_own_card_refusals_in_order() -> None:
    assert v.own_card_refusal(None, "ssn-hash") == "unknown_card"
    assert v.own_card_refusal(CARD, "other") == "ssn_mismatch"
    lost = v.CardRecord("k1", "500106", "lost", True, "ssn-hash", "holder")
    assert v.own_card_refusal(lost, "other") == "ssn_mismatch"  # the person is checked first
    assert v.own_card_refusal(lost, "ssn-hash") == "card_lost"
    cancelled = v.CardRecord("k1", "500106", "cancelled", False, "ssn-hash", "holder")
    assert v.own_card_refusal(cancelled, None) == "card_cancelled"
    no_ecard = v.CardRecord("k1", "500106", "active", False, "ssn-hash", "holder")
    assert v.own_card_refusal(no_ecard, "ssn-hash") is None  # a physical read needs no e-card
    assert v.own_card_refusal(no_ecard, None) == "no_ecard"
    assert v.own_card_refusal(CARD, None) is None


def test_hotlist() -> None:
    assert v.hotlist_refusal("lost") == v.hotlist_refusal("cancelled") == "partner_hotlisted"
    assert v.hotlist_refusal("active") is None and v.hotlist_refusal(None) is None


def test_recorded_event_fields_and_cross_region() -> None:
    where = v.VenueTerminal("v1", "t1", "500000:30", "500106", ("physical",))
    known = v.Outcome(True, None, "510100", "510000", "holder", "person")
    event = v.recorded("id-1", where, "physical", known, "2026-01-01T00:00:00Z")
    assert event.model_dump() == {
        "verification_id": "id-1",
        "venue_id": "v1",
        "terminal_id": "t1",
        "item_id": "500000:30",
        "jurisdiction": "500106",
        "method": "physical",
        "verified": True,
        "reason": None,
        "issuer_region": "510100",
        "cross_region": True,
        "partner_region": "510000",
        "holder_key": "holder",
        "occurred_at": "2026-01-01T00:00:00Z",
        "code_use": None,  # a physical card uses no code
        "offline": None,  # a live verification (docs/offline-validators.md)
    }
    spent = v.recorded("id-4", where, "electronic", replace(known, nonce="use-hash"), "t")
    assert spent.code_use == "use-hash"
    own = v.recorded("id-2", where, "electronic", known.refused_as("card_lost"), "t")
    assert (own.verified, own.reason) == (False, "card_lost")
    unknown = v.recorded("id-3", where, "physical", v.refused("no_terminal"), "t")
    assert unknown.cross_region is False and unknown.issuer_region is None

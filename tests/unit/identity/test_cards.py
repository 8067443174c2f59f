"""Card rules without a platform: resident-id check characters, registration input, the status
lifecycle and e-cards of the card aggregate, and the problem bodies its refusals map to."""

from __future__ import annotations

import pytest
from onecard_events.aggregate import Refused
from onecard_identity.domain.cards import Card, card_field_errors, check_new_card
from onecard_identity.domain.events import CardRegistered, CardStatusChanged, ECardIssued
from onecard_service.privacy import ssn_is_valid
from onecard_service.problems import refusal_problem

from tests.support import people

make_ssn = people.ssn


@pytest.mark.parametrize(
    "ssn",
    ["11010519491231002X", "11010519491231002x", "440524188001010014", make_ssn(7), make_ssn(123)],
)
def test_valid_check_characters(ssn: str) -> None:
    assert ssn_is_valid(ssn)


@pytest.mark.parametrize(
    "ssn",
    [
        "110105194912310021",
        "440524188001010015",
        "44052418800101001",
        "4405241880010100145",
        "A40524188001010014",
    ],
)
def test_invalid_check_characters(ssn: str) -> None:
    assert not ssn_is_valid(ssn)


def _registered(key: str = "k1") -> CardRegistered:
    return CardRegistered(
        card_key=key,
        issuer_region="500106",
        ssn_hash="s",
        name_hash="n",
        holder_key="h",
        registered_at="2026-01-01T00:00:00Z",
    )


def test_field_errors_name_every_bad_field_without_echoing_it() -> None:
    bad = make_ssn(2)[:17] + ("0" if make_ssn(2)[17] != "0" else "1")
    errors = card_field_errors("a1234567", bad, "", "50010")
    assert {field for field, _ in errors} == {"card_no", "ssn", "name", "issuer_region"}
    assert all(bad not in message for _, message in errors)
    assert card_field_errors("A12345678", make_ssn(1), "王小明", "500106") == []


def test_new_card_outside_the_region_is_refused_as_a_validation_problem() -> None:
    check_new_card("A12345678", make_ssn(1), "王小明", "500106", "500000")
    with pytest.raises(Refused) as refused:
        check_new_card("B12345678", make_ssn(3), "李四", "510100", "500000")
    body = refusal_problem(refused.value).body()
    assert body == {
        "type": "urn:onecard:problem:validation",
        "title": "Validation failed",
        "status": 422,
        "detail": "the card is not valid",
        "errors": [{"field": "issuer_region", "message": "must lie in this region (500000)"}],
    }


def test_registration_records_one_event_and_only_once() -> None:
    card = Card("k1")
    assert not card.registered
    card.register(_registered())
    assert (card.status, card.ecard) == ("active", False)
    assert [type(e) for e in card.pending_events] == [CardRegistered]
    again = Card("k1").replay([_registered()])
    with pytest.raises(Refused) as refused:
        again.register(_registered())
    assert refusal_problem(refused.value).body() == {
        "type": "urn:onecard:problem:conflict",
        "title": "Conflict",
        "status": 409,
        "detail": "this card is registered already",
    }
    assert again.pending_events == []


def test_status_lifecycle_lost_reactivated_cancelled_and_final() -> None:
    card = Card("k1").replay([_registered()])
    assert card.version == 1
    card.change_status("lost", "t1")
    card.change_status("lost", "t2")  # no change, no event
    card.change_status("active", "t3")
    card.change_status("cancelled", "t4")
    events = card.collect_events()
    assert [(e.previous, e.status) for e in events if isinstance(e, CardStatusChanged)] == [
        ("active", "lost"),
        ("lost", "active"),
        ("active", "cancelled"),
    ]
    assert card.status == "cancelled"
    for status in ("active", "lost", "cancelled"):
        with pytest.raises(Refused, match="a cancelled card cannot change") as refused:
            card.change_status(status, "t5")
        assert refused.value.status == 409
    with pytest.raises(Refused, match="only an active card gets an e-card"):
        card.issue_ecard("t6")
    assert card.pending_events == []


def test_ecard_is_issued_once_and_codes_need_an_active_ecard() -> None:
    card = Card("k1").replay([_registered()])
    with pytest.raises(Refused, match="no e-card has been issued"):
        card.check_can_show_code()
    card.issue_ecard("t1")
    card.issue_ecard("t2")
    assert [type(e) for e in card.collect_events()] == [ECardIssued]
    card.check_can_show_code()
    card.change_status("lost", "t3")
    with pytest.raises(Refused, match="the card is lost"):
        card.check_can_show_code()


def test_folding_the_stream_gives_the_state() -> None:
    history = [
        _registered(),
        ECardIssued(card_key="k1", issued_at="t1"),
        CardStatusChanged(card_key="k1", status="lost", previous="active", changed_at="t2"),
    ]
    card = Card("k1").replay(history, 3)
    assert (card.status, card.ecard, card.version, card.pending_events) == ("lost", True, 3, [])

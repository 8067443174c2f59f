"""Payee screening: per-row validation, duplicates within a call and across calls, control room."""

from __future__ import annotations

from typing import Any

from onecard_disbursement.domain.payees import (
    MAX_AMOUNT_FEN,
    Candidate,
    Rejection,
    Room,
    admit,
    check_row,
    screen,
)

from tests.support.people import person


def key_of(ssn: str) -> str:
    return f"k:{ssn}"


def reasons(rejected: list[Rejection]) -> list[str]:
    return [r.reason for r in rejected]


def test_per_payee_validation() -> None:
    good = person(10, amount=100)
    bad_ssn = person(11)["ssn"][:-1] + ("0" if person(11)["ssn"][-1] != "0" else "1")
    cases = {
        "invalid_ssn": {**person(11), "ssn": bad_ssn},
        "invalid_amount": {**person(12), "amount_fen": 0},
        "invalid_channel": {**person(13), "channel": "wechat"},
        "invalid_card_no": {**person(14), "card_no": "12"},
        "invalid_name": {**person(15), "name": ""},
        "invalid_reference_id": {**person(16), "reference_id": ""},
    }
    more_amounts: list[Any] = [-1, MAX_AMOUNT_FEN + 1, "100", 1.5, True]
    rows = [good, *cases.values(), *({**person(20 + i), "amount_fen": v} for i, v in enumerate(more_amounts))]
    accepted, rejected = screen(rows, key_of)
    assert [c.reference_id for c in accepted] == [good["reference_id"]]
    assert reasons(rejected) == [*cases, *["invalid_amount"] * len(more_amounts)]


def test_a_row_that_is_not_an_object_is_rejected_alone() -> None:
    assert check_row(["not", "a", "row"], key_of) == Rejection("", "invalid_row")
    long_ref = check_row({**person(1), "reference_id": "-" + "x" * 100}, key_of)
    assert isinstance(long_ref, Rejection) and long_ref.reason == "invalid_reference_id"
    assert len(long_ref.reference_id) == 64


def test_cash_needs_no_card_but_a_card_given_must_be_valid() -> None:
    cash = check_row({**person(30, amount=100, channel="cash"), "card_no": ""}, key_of)
    assert isinstance(cash, Candidate) and cash.channel == "cash" and cash.card_no == ""
    wrong_card = check_row({**person(31, channel="other_account"), "card_no": "12"}, key_of)
    assert wrong_card == Rejection(wrong_card.reference_id, "invalid_card_no")


def test_row_values_are_normalised_and_keyed() -> None:
    raw = {**person(40), "ssn": person(40)["ssn"].lower(), "card_no": " c00000040 ", "name": " 王 "}
    checked = check_row(raw, key_of)
    assert isinstance(checked, Candidate)
    assert checked.ssn == person(40)["ssn"].upper() and checked.card_no == "C00000040"
    assert checked.name == "王" and checked.beneficiary_key == key_of(checked.ssn)


def test_duplicates_within_one_call() -> None:
    a = person(1, amount=100)
    repeat_ref = {**person(2, amount=100), "reference_id": a["reference_id"]}
    same_person = {**person(1, amount=100), "reference_id": "R-other"}
    accepted, rejected = screen([a, repeat_ref, same_person], key_of)
    assert len(accepted) == 1 and reasons(rejected) == ["duplicate", "duplicate"]


def test_duplicates_against_what_was_accepted_before() -> None:
    candidates, _ = screen([person(1, amount=100), person(2, amount=100), person(3, amount=100)], key_of)
    used = {candidates[0].reference_id}
    claimed = {candidates[1].beneficiary_key}
    accepted, rejected = admit(candidates, used, claimed, Room(10, 10_000))
    assert accepted == [candidates[2]]
    assert reasons(rejected) == ["duplicate", "duplicate"]


def test_payees_that_would_overrun_the_control_figures_are_refused_row_by_row() -> None:
    candidates, _ = screen([person(i, amount=100) for i in range(3)], key_of)
    accepted, rejected = admit(candidates, set(), set(), Room(2, 200))
    assert len(accepted) == 2 and reasons(rejected) == ["exceeds_control"]
    # The total is a limit of its own: a payee over what is left is refused, a smaller one fits.
    big, small = screen([person(5, amount=150), person(6, amount=50)], key_of)[0]
    accepted, rejected = admit([big, small], set(), set(), Room(5, 100))
    assert accepted == [small] and rejected == [Rejection(big.reference_id, "exceeds_control")]

"""Bank results: which change a payee, which repeat, which conflict, which are unknown."""

from __future__ import annotations

from onecard_disbursement.domain.settlement import Change, PayeeState, Result, plan, verdict


def payees(*states: tuple[str, str], batch_status: str = "submitted") -> dict[str, PayeeState]:
    return {ref: PayeeState(ref, "B1", batch_status, status, 100) for ref, status in states}


def test_verdicts() -> None:
    assert verdict("submitted", "pending", "paid") == "apply"
    assert verdict("submitted", "paid", "paid") == "same"
    assert verdict("submitted", "paid", "returned") == "apply"
    assert verdict("submitted", "paid", "failed") == "already_paid"
    assert verdict("submitted", "failed", "paid") == "already_failed"
    assert verdict("submitted", "returned", "paid") == "already_returned"
    assert verdict("open", "pending", "paid") == "batch_not_submitted"


def test_results_are_idempotent_and_unknowns_reported() -> None:
    first = plan([Result("R1", "paid"), Result("R2", "paid")], payees(("R1", "pending"), ("R2", "pending")))
    assert [c.reference_id for c in first.changes] == ["R1", "R2"] and first.unknown == []
    again = plan(
        [Result("R1", "paid"), Result("R2", "paid"), Result("NOPE-1", "paid")],
        payees(("R1", "paid"), ("R2", "paid")),
    )
    assert again.changes == [] and again.unchanged == ["R1", "R2"] and again.unknown == ["NOPE-1"]
    contradiction = plan([Result("R1", "failed")], payees(("R1", "paid")))
    assert contradiction.conflicts == [{"reference_id": "R1", "status": "failed", "reason": "already_paid"}]


def test_a_payee_may_move_twice_in_one_call() -> None:
    results = [Result("R1", "paid"), Result("R1", "returned", "account_frozen")]
    decided = plan(results, payees(("R1", "pending")))
    assert decided.changes == [
        Change("R1", "B1", "pending", "paid", "", 100),
        Change("R1", "B1", "paid", "returned", "account_frozen", 100),
    ]


def test_results_for_an_open_batch_conflict() -> None:
    decided = plan([Result("R1", "paid")], payees(("R1", "pending"), batch_status="open"))
    assert decided.changes == [] and decided.conflicts[0]["reason"] == "batch_not_submitted"

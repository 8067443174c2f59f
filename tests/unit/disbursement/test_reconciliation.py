"""Reconciling a batch: rows, events, bank results, the bank's statement and counters agree."""

from __future__ import annotations

from onecard_disbursement.domain.batch import Figures
from onecard_disbursement.domain.reconciliation import MAX_LISTED, Report, Sources, final_of, reconcile, tally


def sources(**changes: object) -> Sources:
    base = {
        "counters": Figures(accepted=2, accepted_total_fen=300, paid=1, failed=1, paid_total_fen=100),
        "payees": {"R1": "paid", "R2": "failed"},
        "amounts": {"R1": 100, "R2": 200},
        "events": {"R1": "paid", "R2": "failed"},
        "bank_results": {"R1": "paid", "R2": "failed"},
        "statement": {"R1": "paid", "R2": "failed"},
        "dispatched": True,
    }
    return Sources(**{**base, **changes})  # type: ignore[arg-type]


def checks(s: Sources) -> set[str]:
    return {m["check"] for m in reconcile(s)[0].mismatches}


def test_final_outcome_of_a_payees_results() -> None:
    assert final_of([]) == "pending"
    assert final_of(["paid"]) == "paid"
    assert final_of(["paid", "returned"]) == "returned"
    assert final_of(["paid", "failed"]) == "conflicting"


def test_tally() -> None:
    f = tally({"R1": "paid", "R2": "pending", "R3": "returned"}, {"R1": 100, "R2": 200, "R3": 50})
    assert f == Figures(accepted=3, accepted_total_fen=350, paid=1, returned=1, paid_total_fen=100)


def test_a_balanced_batch() -> None:
    report, figures = reconcile(sources())
    assert report.count == 0 and report.in_transit == 0
    assert set(figures) == {"counters", "payees", "events", "bank_results"}


def test_the_bank_saying_paid_where_its_callback_said_failed() -> None:
    found = checks(sources(statement={"R1": "paid", "R2": "paid"}))
    assert found == {"payee_vs_bank_statement"}
    found = checks(sources(payees={"R1": "paid", "R2": "failed"}, bank_results={"R1": "paid"}))
    assert {"payee_vs_bank_results", "counters_vs_bank_results"} <= found


def test_events_and_counters_must_agree_with_the_rows() -> None:
    assert {"payee_vs_events", "counters_vs_events"} <= checks(sources(events={"R1": "paid"}))
    assert checks(sources(counters=Figures(accepted=2, accepted_total_fen=300))) == {
        "counters_vs_payees",
        "counters_vs_events",
        "counters_vs_bank_results",
    }


def test_the_statement_side() -> None:
    in_transit = sources(
        counters=Figures(accepted=2, accepted_total_fen=300, paid=1, paid_total_fen=100),
        payees={"R1": "paid", "R2": "pending"},
        events={"R1": "paid", "R2": "pending"},
        bank_results={"R1": "paid"},
    )
    report, _ = reconcile(in_transit)
    assert report.count == 0 and report.in_transit == 1
    # Returned after being paid: the bank's statement still says paid, and that is no mismatch.
    returned = sources(
        counters=Figures(accepted=2, accepted_total_fen=300, failed=1, returned=1),
        payees={"R1": "returned", "R2": "failed"},
        events={"R1": "returned", "R2": "failed"},
        bank_results={"R1": "returned", "R2": "failed"},
    )
    assert reconcile(returned)[0].count == 0
    assert checks(sources(statement={"R1": "paid"})) == {"not_at_bank"}
    assert checks(sources(statement={"R1": "paid"}, dispatched=False)) == set()
    assert checks(sources(statement={"R1": "paid", "R2": "failed", "R9": "paid"})) == {"unknown_at_bank"}


def test_the_report_lists_a_bounded_number_of_mismatches() -> None:
    report = Report()
    for i in range(MAX_LISTED + 5):
        report.add("x", n=i)
    assert report.count == MAX_LISTED + 5 and len(report.mismatches) == MAX_LISTED

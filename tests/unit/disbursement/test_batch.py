"""The batch's figures and the rules that move it from open to submitted to completed."""

from __future__ import annotations

from onecard_disbursement.domain.batch import COMPLETED, IDENTIFIER, OPEN, PERIOD, SUBMITTED, Batch, Figures
from onecard_disbursement.domain.program import item_refusal, jurisdiction_fits


def batch(status: str = OPEN, figures: Figures | None = None, count: int = 3, total: int = 300) -> Batch:
    return Batch("B1", status, count, total, figures or Figures(accepted=3, accepted_total_fen=300))


def test_submission_needs_the_control_figures_met() -> None:
    assert batch().submission_refusal() is None
    short = batch(count=4, total=400).submission_refusal()
    assert short is not None and "control" in short
    wrong_total = batch(total=301).submission_refusal()
    assert wrong_total is not None and "control" in wrong_total


def test_only_an_open_batch_is_submitted() -> None:
    for status in (SUBMITTED, COMPLETED):
        assert batch(status).submission_refusal() == f"batch is {status}, not open"


def test_settling_moves_the_counters() -> None:
    f = Figures(accepted=3, accepted_total_fen=300)
    f = f.settle("pending", "paid", 100).settle("pending", "failed", 100)
    assert (f.paid, f.failed, f.paid_total_fen, f.pending) == (1, 1, 100, 1)
    # paid -> returned takes the payment back out of the paid figures.
    f = f.settle("paid", "returned", 100)
    assert (f.paid, f.returned, f.paid_total_fen, f.pending) == (0, 1, 0, 1)


def test_a_submitted_batch_completes_when_nothing_is_pending() -> None:
    done = Figures(accepted=1, accepted_total_fen=100, paid=1, paid_total_fen=100)
    assert batch(SUBMITTED, done, 1, 100).completes()
    assert not batch(SUBMITTED, Figures(accepted=1, accepted_total_fen=100), 1, 100).completes()
    assert not batch(OPEN, done, 1, 100).completes()


def test_identifiers_and_periods() -> None:
    assert IDENTIFIER.match("B-2025.06:a") and not IDENTIFIER.match("-B") and not IDENTIFIER.match("x" * 65)
    for period in ("2025", "2025-06", "2025-Q3", "2025-H2"):
        assert PERIOD.match(period), period
    for period in ("2025-13", "2025-Q5", "2025-6", "25"):
        assert not PERIOD.match(period), period


def test_program_needs_an_active_disbursement_item() -> None:
    active = {"categories": ["disbursement"], "status": "active"}
    assert item_refusal(active) is None
    assert item_refusal(None) == "no such item in the catalogue"
    plain = {**active, "categories": ["identity"]}
    assert item_refusal(plain) == "the item is not in the disbursement category"
    assert item_refusal({**active, "status": "retired"}) == "the item is retired"


def test_a_municipal_item_may_be_run_by_its_districts() -> None:
    assert jurisdiction_fits("500155", "500155")
    assert jurisdiction_fits("500000", "500155")
    assert not jurisdiction_fits("500155", "500106")
    assert not jurisdiction_fits("510000", "500155")

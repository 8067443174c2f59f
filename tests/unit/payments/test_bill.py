"""The bill aggregate's rules on their own: decisions, refusals and folds (no store, no server)."""

from __future__ import annotations

import pytest
from onecard_contracts.regions import is_cross_region
from onecard_events.aggregate import Refused
from onecard_payments.domain.bill import MAX_AMOUNT_FEN, Bill, Payer
from onecard_payments.domain.events import (
    BillOpened,
    PaymentDeclined,
    PaymentInitiated,
    PaymentRefunded,
    PaymentSettled,
    registry,
)
from onecard_payments.domain.reconciliation import business_day
from onecard_service.problems import conflict, invalid, refusal_problem

T = "2025-01-01T00:00:00Z"


def _bill(amount_fen: int = 1000) -> Bill:
    bill = Bill("b1")
    bill.open("m1", "500000:80", "500106", "r1", amount_fen, "", T)
    return bill


def _paid(amount_fen: int = 1000) -> Bill:
    bill = _bill(amount_fen)
    bill.initiate("p1", "card_account", "p1", Payer("k", "500103"), False, T)
    bill.settle("p1", T)
    return bill


def test_domain_rules() -> None:
    bill = _bill()
    bill.initiate("p1", "card_account", "p1", Payer("k", "500103"), False, "t")
    with pytest.raises(Refused) as busy:
        bill.initiate("p2", "other", None, Payer(), False, "t")
    assert busy.value.code == "payment_in_progress"
    settled = bill.settle("p1", "t")
    assert settled is not None
    assert bill.settle("p1", "t") is None and bill.decline("p1", "x", "t") is None
    with pytest.raises(Refused) as paid:
        bill.initiate("p3", "other", None, Payer(), False, "t")
    assert paid.value.code == "bill_settled"
    bill.refund("p1", "r1", 999, "t")
    with pytest.raises(Refused) as over:
        bill.refund("p1", "r2", 2, "t")
    assert over.value.field == "amount_fen"
    with pytest.raises(Refused):
        Bill("b2").open("m1", "i", "500106", "r", 0, "", "t")
    assert is_cross_region("510104", "500106") and not is_cross_region("500240", "500106")
    assert isinstance(BillOpened.model_validate(_bill_event_data()), BillOpened)


def _bill_event_data() -> dict[str, object]:
    return {
        "bill_id": "b",
        "merchant_id": "m",
        "item_id": "i",
        "jurisdiction": "500106",
        "bill_ref": "r",
        "amount_fen": 1,
        "opened_at": "t",
    }


def test_decisions_record_their_events_and_a_replay_folds_them_back() -> None:
    bill = _paid()
    bill.refund("p1", "r1", 300, T)
    pending = bill.collect_events()
    assert [type(e) for e in pending] == [
        BillOpened,
        PaymentInitiated,
        PaymentSettled,
        PaymentRefunded,
    ]
    assert bill.pending_events == []
    again = Bill("b1").replay(pending, version=4)
    assert again == bill and again.version == 4 and again.pending_events == []
    assert again.status == "settled"
    assert again.payment("p1").refunded_fen == 300 and again.payment("p1").refundable_fen == 700


def test_bill_states() -> None:
    bill = _bill()
    assert bill.opened and bill.status == "open"
    bill.initiate("p1", "card_account", "p1", Payer("k", "500103"), False, T)
    assert bill.status == "paying"
    declined = bill.decline("p1", "insufficient_funds", T)
    assert declined is not None and declined.reason == "insufficient_funds"
    # A declined attempt leaves the bill open: it can be paid again, by another method.
    assert bill.status == "open" and bill.payment("p1").refundable_fen == 0
    bill.initiate("p2", "other", None, Payer(), False, T)
    bill.settle("p2", T)
    assert bill.status == "settled"


def test_outcomes_carry_what_reporting_needs() -> None:
    bill = _bill(1500)
    payer = Payer("holder-key", "510104", is_cross_region("510104", "500106"))
    initiated = bill.initiate("p1", "ecard", "p1", payer, True, T)
    assert initiated.amount_fen == 1500 and initiated.bank_ref == "p1" and initiated.cross_region
    settled = bill.settle("p1", "2025-01-01T01:00:00Z")
    assert settled is not None
    assert settled.model_dump() == {
        "payment_id": "p1",
        "bill_id": "b1",
        "merchant_id": "m1",
        "item_id": "500000:80",
        "jurisdiction": "500106",
        "method": "ecard",
        "amount_fen": 1500,
        "payer_key": "holder-key",
        "issuer_region": "510104",
        "cross_region": True,
        "agreement_merchant": True,
        "settled_at": "2025-01-01T01:00:00Z",
    }
    refunded = bill.refund("p1", "r1", 500, T)
    assert (refunded.bill_id, refunded.merchant_id, refunded.method) == ("b1", "m1", "ecard")


def test_declined_events_carry_the_reason_and_no_payer() -> None:
    bill = _bill()
    bill.initiate("p1", "card_account", None, Payer(), False, T)
    declined = bill.decline("p1", "invalid_ssn", T)
    assert isinstance(declined, PaymentDeclined)
    assert set(declined.model_dump()) == {
        "payment_id",
        "bill_id",
        "merchant_id",
        "item_id",
        "jurisdiction",
        "method",
        "amount_fen",
        "reason",
        "declined_at",
    }


def test_refunds_up_to_the_paid_amount_and_only_of_settled_payments() -> None:
    bill = _paid(1000)
    bill.refund("p1", "r1", 600, T)
    with pytest.raises(Refused) as over:
        bill.refund("p1", "r2", 401, T)
    assert over.value.status == 422 and over.value.code is None
    bill.refund("p1", "r2", 400, T)
    assert bill.payment("p1").refundable_fen == 0

    declined = _bill()
    declined.initiate("p1", "card_account", "p1", Payer(), False, T)
    declined.decline("p1", "insufficient_funds", T)
    with pytest.raises(Refused) as not_settled:
        declined.refund("p1", "r1", 1, T)
    assert not_settled.value.status == 409 and not_settled.value.code == "not_settled"


@pytest.mark.parametrize("amount", [0, -1, MAX_AMOUNT_FEN + 1])
def test_bill_amounts(amount: int) -> None:
    with pytest.raises(Refused) as refused:
        Bill("b").open("m", "i", "500106", "r", amount, "", T)
    assert refused.value.field == "amount_fen" and refused.value.status == 422
    assert Bill("b").open("m", "i", "500106", "r", MAX_AMOUNT_FEN, "", T).amount_fen == MAX_AMOUNT_FEN


def test_a_bill_opens_once() -> None:
    with pytest.raises(Refused):
        _bill().open("m1", "i", "500106", "r", 1, "", T)


def test_refusals_keep_the_problem_bodies_the_routes_gave() -> None:
    """The edge maps a Refused once (refusal_problem): the bodies are what the handlers' own
    invalid(...) and conflict(..., code=...) answered before."""
    with pytest.raises(Refused) as over:
        _paid(1000).refund("p1", "r", 1001, T)
    message = "at most 1000 fen of this payment can still be refunded"
    assert refusal_problem(over.value).body() == invalid("amount_fen", message).body()

    bill = _bill()
    bill.initiate("p1", "other", None, Payer(), False, T)
    with pytest.raises(Refused) as busy:
        bill.initiate("p2", "other", None, Payer(), False, T)
    detail = "a payment of bill b1 is in progress"
    assert refusal_problem(busy.value).body() == conflict(detail, code="payment_in_progress").body()

    with pytest.raises(Refused) as amount:
        Bill("b").open("m", "i", "500106", "r", 0, "", T)
    expected = invalid("amount_fen", f"amount must be 1..{MAX_AMOUNT_FEN} fen").body()
    assert refusal_problem(amount.value).body() == expected


def test_business_day_is_beijing_time() -> None:
    assert business_day("2025-01-01T15:59:59Z") == "2025-01-01"
    assert business_day("2025-01-01T16:00:00Z") == "2025-01-02"
    assert business_day("2025-01-01T16:00:00+00:00") == "2025-01-02"


def test_the_events_registered_are_the_five_payments_publishes() -> None:
    # PaymentOutcome (the fields settled and declined share) is no event type of its own.
    assert set(registry.event_types()) == {
        "onecard.payments.bill_opened",
        "onecard.payments.payment_initiated",
        "onecard.payments.payment_settled",
        "onecard.payments.payment_declined",
        "onecard.payments.payment_refunded",
    }

"""The libraries' pure pieces: aggregates that record their events, the one refusal and its
problem document, RFC 3339 times, region rules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import ClassVar

import pytest
from onecard_contracts.regions import covers, is_cross_region, province_code
from onecard_events.aggregate import Aggregate, Refused
from onecard_events.model import DomainEvent
from onecard_events.times import parse_rfc3339, rfc3339
from onecard_service.problems import refusal_problem


class Opened(DomainEvent):
    event_type: ClassVar[str] = "test.opened"
    amount: int


@dataclass(frozen=True)
class Account(Aggregate):
    total: list[int] = field(default_factory=list)

    def apply(self, event: DomainEvent) -> None:
        assert isinstance(event, Opened)
        self.total.append(event.amount)

    def open(self, amount: int) -> None:
        if amount <= 0:
            raise Refused("amount must be positive", status=422, field="amount", code="bad_amount")
        self.trigger(Opened(amount=amount))


def test_trigger_applies_at_once_and_keeps_the_event_until_collected() -> None:
    account = Account().replay([Opened(amount=1)], version=7)
    assert (account.total, account.version, account.pending_events) == ([1], 7, [])
    account.open(5)
    assert account.total == [1, 5]
    assert account.pending_events == [Opened(amount=5)]
    assert account.collect_events() == [Opened(amount=5)]
    assert account.pending_events == []


def test_a_refusal_records_nothing_and_maps_to_one_problem_shape() -> None:
    account = Account()
    with pytest.raises(Refused) as refused:
        account.open(0)
    assert account.pending_events == [] and refused.value.field == "amount"
    body = refusal_problem(refused.value).body()
    assert body["status"] == 422 and body["code"] == "bad_amount"
    assert body["errors"] == [{"field": "amount", "message": "amount must be positive"}]
    conflict = refusal_problem(Refused("bill b1 is already paid", code="bill_settled")).body()
    assert (conflict["status"], conflict["type"], conflict["code"]) == (
        409,
        "urn:onecard:problem:conflict",
        "bill_settled",
    )


def test_rfc3339_round_trip_dates_and_naive_times() -> None:
    moment = datetime(2025, 6, 1, 8, 30, tzinfo=UTC)
    assert rfc3339(moment) == "2025-06-01T08:30:00Z"
    assert parse_rfc3339("2025-06-01T08:30:00Z") == moment
    assert parse_rfc3339("2025-06-01") == datetime(2025, 6, 1, tzinfo=UTC)
    assert rfc3339(datetime(2025, 6, 1, 8, 30)) == "2025-06-01T08:30:00Z"
    with pytest.raises(ValueError):
        parse_rfc3339("yesterday")


def test_region_rules() -> None:
    assert province_code("510104") == "510000"
    assert is_cross_region("510104", "500240") and not is_cross_region("500101", "500240")
    assert not is_cross_region(None, "500240")
    assert covers("500000", "500240") and covers("500240", "500240")
    assert not covers("500240", "500111") and not covers("500000", "510104")

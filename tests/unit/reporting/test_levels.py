"""The level rules (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from onecard_reporting.domain.levels import (
    covers,
    end_of_year,
    local_year,
    overall_level,
    overall_status,
    parse_time,
    payment_level,
    planned_level,
    ratio,
    ratio_level,
    status,
    version_in_force,
)


@pytest.mark.parametrize(
    ("value", "level"),
    [(None, 0), (0.0, 0), (0.4999, 0), (0.5, 1), (0.6999, 1), (0.7, 2), (0.8999, 2), (0.9, 3), (1.0, 3)],
)
def test_ratio_levels(value: float | None, level: int) -> None:
    assert ratio_level(value) == level


def test_ratio_of_thirds_reaches_level_two_at_seven_of_ten() -> None:
    assert ratio_level(ratio(7, 10)) == 2 and ratio(1, 3) == 0.3333 and ratio(0, 0) is None


def test_payment_has_two_levels() -> None:
    assert [payment_level(False, False), payment_level(True, False), payment_level(True, True)] == [0, 1, 2]
    assert payment_level(False, True) == 2  # an agreement e-card payment is a card-account payment too


def test_plans() -> None:
    assert planned_level({"2025": 2}, 2025) == 2
    assert planned_level({"2025": 2}, 2026) is None
    assert planned_level({"2025": "采取试点方式"}, 2025) is None
    assert planned_level(None, 2025) is None
    assert planned_level({"2025": True}, 2025) is None


def test_status_against_plan() -> None:
    assert status(2, 2) == "met" and status(3, 2) == "met" and status(1, 2) == "behind"
    assert status(0, None) == "no_plan"
    assert status(2, 3, cap=2) == "met"  # payment cannot go beyond level 2
    assert overall_status(["met", "met"]) == "met"
    assert overall_status(["met", "behind"]) == "behind"
    assert overall_status([]) == "no_plan"
    assert overall_level([3, 1, 2]) == 1 and overall_level([]) == 0


def test_jurisdiction_roll_up() -> None:
    assert covers("500000", "500106") and covers("500000", "500000") and covers("500106", "500106")
    assert not covers("500106", "500111") and not covers("500000", "510100")


def test_times_and_years() -> None:
    assert parse_time("2025-01-01") == datetime(2025, 1, 1, tzinfo=UTC)
    assert parse_time("2025-06-30T16:30:00Z") == datetime(2025, 6, 30, 16, 30, tzinfo=UTC)
    assert parse_time("not a time") is None and parse_time(None) is None
    # 2025-12-31T17:00Z is already 2026 in Chongqing
    assert local_year(datetime(2025, 12, 31, 17, tzinfo=UTC)) == 2026
    assert end_of_year(2025) < datetime(2025, 12, 31, 16, 0, 1, tzinfo=UTC)


def test_catalogue_version_in_force() -> None:
    jan = datetime(2025, 1, 1, tzinfo=UTC)
    jul = datetime(2025, 7, 1, tzinfo=UTC)
    versions = [(jan, 1, False, {"name": "v1"}), (jul, 2, False, {"name": "v2"})]
    assert version_in_force(versions, datetime(2025, 3, 1, tzinfo=UTC)) == {"name": "v1"}
    assert version_in_force(versions, datetime(2025, 8, 1, tzinfo=UTC)) == {"name": "v2"}
    assert version_in_force(versions, datetime(2024, 8, 1, tzinfo=UTC)) is None
    retired = [*versions, (datetime(2025, 9, 1, tzinfo=UTC), 3, True, {})]
    assert version_in_force(retired, datetime(2025, 10, 1, tzinfo=UTC)) is None

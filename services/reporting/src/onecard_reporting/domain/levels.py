"""Depth levels and status against plan (DOMAIN.md, "Depth levels"). Pure functions.

identity / disbursement: level 1, 2, 3 at a ratio of at least 50 %, 70 %, 90 %.
payment: 1 once a card-account payment settled; 2 once an agreement merchant settled an e-card
bill-pull payment (two levels only). Below level 1 is level 0. An item's overall level is the
lowest of its categories' levels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

from onecard_contracts.regions import province_of
from onecard_events import times

Status = Literal["met", "behind", "no_plan"]
CATEGORIES = ("identity", "disbursement", "payment")
THRESHOLDS = ((0.9, 3), (0.7, 2), (0.5, 1))
MAX_LEVEL = {"identity": 3, "disbursement": 3, "payment": 2}
MUNICIPAL = "500000"
# Years and "year to date" follow China Standard Time.
LOCAL = timezone(timedelta(hours=8))


def ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def ratio_level(value: float | None) -> int:
    """Identity and disbursement: the level a ratio reaches (0 below 50 %)."""
    if value is None:
        return 0
    return next((level for threshold, level in THRESHOLDS if value >= threshold - 1e-12), 0)


def payment_level(card_account_settled: bool, agreement_ecard_settled: bool) -> int:
    if agreement_ecard_settled:
        return 2
    return 1 if card_account_settled else 0


def planned_level(plan: Mapping[str, Any] | None, year: int) -> int | None:
    """The plan's integer level for the end of `year`; None for a text plan or no plan."""
    value = (plan or {}).get(str(year))
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3:
        return None
    return value


def status(level: int, planned: int | None, cap: int = 3) -> Status:
    """`met` when the level reaches the plan (capped at what the category can reach)."""
    if planned is None:
        return "no_plan"
    return "met" if level >= min(planned, cap) else "behind"


def overall_level(levels: Iterable[int]) -> int:
    return min(levels, default=0)


def overall_status(statuses: Iterable[Status]) -> Status:
    found = list(statuses)
    if not found or "no_plan" in found:
        return "no_plan"
    return "met" if all(s == "met" for s in found) else "behind"


def covers(scope: str, jurisdiction: str) -> bool:
    """A district counts its own figures; the municipal figure rolls up all Chongqing districts."""
    return scope == jurisdiction or (scope == MUNICIPAL and in_chongqing(jurisdiction))


def in_chongqing(jurisdiction: str) -> bool:
    return province_of(jurisdiction) == province_of(MUNICIPAL)


def parse_time(value: str | None) -> datetime | None:
    """An RFC 3339 time or an ISO date (midnight UTC); None when absent or unreadable."""
    if not value:
        return None
    try:
        return aware(times.parse_rfc3339(value))
    except ValueError:
        return None


def aware(moment: datetime) -> datetime:
    """In UTC; a naive time (SQLite hands those back) is taken as UTC."""
    return times.aware(moment).astimezone(UTC)


def local_year(moment: datetime) -> int:
    return moment.astimezone(LOCAL).year


def end_of_year(year: int) -> datetime:
    return datetime(year + 1, 1, 1, tzinfo=LOCAL) - timedelta(microseconds=1)


def reference_time(year: int, now: datetime) -> datetime:
    """Figures for `year` are taken at its end, or now for the current year."""
    return min(now, end_of_year(year))


def version_in_force(
    versions: Iterable[tuple[datetime, int, bool, dict[str, Any]]], at: datetime
) -> dict[str, Any] | None:
    """The item as the catalogue version in force at `at` says; None when retired or not yet valid.

    `versions` are (valid_from, version, retired, item).
    """
    current = max(
        ((vf, v, r, i) for vf, v, r, i in versions if vf <= at), default=None, key=lambda t: (t[0], t[1])
    )
    if current is None or current[2]:
        return None
    return current[3]

"""The reports, computed from a `Snapshot` (no I/O): depth, cross-region use and progress."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from .facts import ROLLUP, MerchantFacts, PaymentFirsts, Snapshot, VenueFacts
from .levels import (
    MAX_LEVEL,
    MUNICIPAL,
    Status,
    covers,
    overall_level,
    overall_status,
    payment_level,
    planned_level,
    ratio,
    ratio_level,
    reference_time,
    status,
    version_in_force,
)

F = TypeVar("F", VenueFacts, MerchantFacts, PaymentFirsts)
FORMS = {"physical": "physical", "electronic": "ecard"}


@dataclass(frozen=True)
class Filters:
    year: int
    jurisdiction: str | None = None
    department: str | None = None
    item_id: str | None = None
    category: str | None = None

    def admits(self, item: dict[str, Any], jurisdiction: str) -> bool:
        return (
            (self.jurisdiction is None or self.jurisdiction == jurisdiction)
            and (self.department is None or self.department == item.get("department"))
            and (self.item_id is None or self.item_id == item["item_id"])
        )


def _item_order(item_id: str) -> tuple[str, int, str]:
    jurisdiction, _, seq = item_id.partition(":")
    digits = re.sub(r"\D", "", seq)
    return (jurisdiction, int(digits) if digits else 0, seq)


def items_in_force(snap: Snapshot, at: datetime) -> Iterator[dict[str, Any]]:
    for item_id in sorted(snap.items, key=_item_order):
        item = version_in_force(snap.items[item_id], at)
        if item is not None and item.get("kind", "service") == "service" and item.get("categories"):
            yield item


def scopes_of(snap: Snapshot, item: dict[str, Any]) -> list[str]:
    """The item's own jurisdiction, and for a municipal item each district with figures."""
    own = item["jurisdiction"]
    if own != MUNICIPAL:
        return [own]
    return [own, *sorted(j for j in snap.jurisdictions_of(item["item_id"]) if j != MUNICIPAL)]


def _total(snap: Snapshot, facts: dict[tuple[str, str], F], item_id: str, scope: str, zero: F) -> F:
    total = zero
    for j in snap.jurisdictions_of(item_id):
        value = facts.get((item_id, j))
        if value is not None and covers(scope, j):
            total = total + value
    return total


@dataclass(frozen=True)
class Figures:
    """What one item achieved in one jurisdiction, by the end of a year."""

    venues: VenueFacts
    merchants: MerchantFacts
    payments: PaymentFirsts
    beneficiaries: tuple[int, int]
    at: datetime

    def settled(self, moment: datetime | None) -> bool:
        return moment is not None and moment <= self.at


def figures(snap: Snapshot, item_id: str, scope: str, year: int) -> Figures:
    key = ROLLUP if scope == MUNICIPAL else scope
    return Figures(
        venues=_total(snap, snap.venues, item_id, scope, VenueFacts()),
        merchants=_total(snap, snap.merchants, item_id, scope, MerchantFacts()),
        payments=_total(snap, snap.payments, item_id, scope, PaymentFirsts()),
        beneficiaries=snap.beneficiaries.get((item_id, key, year), (0, 0)),
        at=reference_time(year, snap.now),
    )


def category_row(category: str, fig: Figures, planned: int | None) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if category == "identity":
        num, den = fig.venues.accepting, fig.venues.venues
        level = ratio_level(ratio(num, den))
        extra = {"active_numerator": fig.venues.active, "active_ratio": ratio(fig.venues.active, den)}
    elif category == "disbursement":
        num, den = fig.beneficiaries
        level = ratio_level(ratio(num, den))
    else:
        num, den = fig.merchants.agreement, fig.merchants.merchants
        card = fig.settled(fig.payments.card_account_at) or fig.settled(fig.payments.ecard_at)
        agreement = fig.settled(fig.payments.agreement_ecard_at)
        level = payment_level(card, agreement)
        extra = {
            "card_account_settled": card,
            "agreement_ecard_settled": agreement,
            "agreement_share": ratio(num, den),
        }
    return {
        "category": category,
        "numerator": num,
        "denominator": den,
        "ratio": ratio(num, den),
        "level": level,
        "planned_level": planned,
        "status": status(level, planned, MAX_LEVEL[category]),
        **extra,
    }


def overall_row(rows: list[dict[str, Any]], planned: int | None) -> dict[str, Any]:
    return {
        "category": "overall",
        "numerator": None,
        "denominator": None,
        "ratio": None,
        "level": overall_level(r["level"] for r in rows),
        "planned_level": planned,
        "status": overall_status(r["status"] for r in rows),
    }


def _head(item: dict[str, Any], scope: str) -> dict[str, Any]:
    return {
        "item_id": item["item_id"],
        "name": item.get("name", ""),
        "jurisdiction": scope,
        "department": item.get("department", ""),
    }


def item_rows(snap: Snapshot, item: dict[str, Any], scope: str, year: int) -> list[dict[str, Any]]:
    planned = planned_level(item.get("plan"), year)
    fig = figures(snap, item["item_id"], scope, year)
    rows = [category_row(c, fig, planned) for c in item["categories"] if c in MAX_LEVEL]
    head = _head(item, scope)
    return [{**head, **r} for r in [*rows, overall_row(rows, planned)]]


def all_depth_rows(snap: Snapshot, year: int) -> list[tuple[dict[str, Any], str, list[dict[str, Any]]]]:
    """(item, jurisdiction, rows) for every item in force at the end of `year` (memoised)."""
    key = ("depth", year)
    if key not in snap.memo:
        snap.memo[key] = [
            (item, scope, item_rows(snap, item, scope, year))
            for item in items_in_force(snap, reference_time(year, snap.now))
            for scope in scopes_of(snap, item)
        ]
    found: list[tuple[dict[str, Any], str, list[dict[str, Any]]]] = snap.memo[key]
    return found


def depth_rows(snap: Snapshot, f: Filters) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item, scope, rows in all_depth_rows(snap, f.year):
        if f.admits(item, scope):
            out += [r for r in rows if f.category in (None, r["category"])]
    return out


# -- progress (half-yearly report): per item, overall and per card form --------------------------


def form_levels(fig: Figures, categories: Iterable[str], form: str) -> dict[str, tuple[int, int]]:
    """(level, cap) per category, for one card form."""
    out: dict[str, tuple[int, int]] = {}
    for c in categories:
        if c == "identity":
            accepting = fig.venues.physical if form == "physical" else fig.venues.electronic
            out[c] = (ratio_level(ratio(accepting, fig.venues.venues)), 3)
        elif c == "disbursement":
            out[c] = (ratio_level(ratio(*fig.beneficiaries)), 3)
        elif c == "payment" and form == "physical":
            out[c] = (int(fig.settled(fig.payments.card_account_at)), 1)
        elif c == "payment":
            ecard = fig.settled(fig.payments.ecard_at)
            out[c] = (payment_level(ecard, fig.settled(fig.payments.agreement_ecard_at)), 2)
    return out


def form_status(item: dict[str, Any], fig: Figures, form: str, planned: int | None) -> tuple[int | None, str]:
    if form not in (item.get("card_forms") or ()):
        return None, "not_applicable"
    levels = form_levels(fig, item["categories"], form)
    statuses: list[Status] = [status(level, planned, cap) for level, cap in levels.values()]
    return overall_level(level for level, _ in levels.values()), overall_status(statuses)


def progress_rows(snap: Snapshot, f: Filters) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in items_in_force(snap, reference_time(f.year, snap.now)):
        scope = item["jurisdiction"]
        if not f.admits(item, scope):
            continue
        rows = item_rows(snap, item, scope, f.year)
        overall = rows[-1]
        fig = figures(snap, item["item_id"], scope, f.year)
        row = {
            **_head(item, scope),
            "categories": ",".join(item["categories"]),
            "planned_level": overall["planned_level"],
            "achieved_level": overall["level"],
            "status": overall["status"],
        }
        for form, label in FORMS.items():
            level, form_state = form_status(item, fig, form, overall["planned_level"])
            row[f"{label}_level"], row[f"{label}_status"] = level, form_state
        out.append(row)
    return out


def progress_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    planned = [r for r in rows if r["status"] != "no_plan"]
    met = sum(1 for r in planned if r["status"] == "met")
    return {"items": len(rows), "planned": len(planned), "met": met, "progress": ratio(met, len(planned))}


# -- cross-region ----------------------------------------------------------------------------------


def cross_region_rows(
    snap: Snapshot,
    partner: str | None,
    jurisdiction: str | None,
    department_ok: Callable[[str | None], bool],
) -> list[dict[str, Any]]:
    totals: dict[tuple[str, str], dict[str, int]] = {}
    for (p, direction, item_id, j), count in snap.uses.items():
        if (partner is None or p == partner) and (jurisdiction is None or covers(jurisdiction, j)):
            counts = totals.setdefault((item_id, p), {"inbound": 0, "outbound": 0})
            counts[direction] += count
    out = []
    for (item_id, p), counts in sorted(totals.items(), key=lambda kv: (_item_order(kv[0][0]), kv[0][1])):
        item = version_in_force(snap.items.get(item_id, []), snap.now) or {}
        department = item.get("department")
        if department_ok(department):
            out.append(
                {
                    "item_id": item_id,
                    "name": item.get("name"),
                    "department": department,
                    "partner": p,
                    **counts,
                }
            )
    return out

"""The department console's view: per item of the caller's scope, depth against plan per
category, the ratios and shares behind it, cross-region use per partner, and depth over time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..adapters.depth_history import depth_history, local_day
from ..adapters.snapshot import ReportingState
from ..domain.depth import Filters, cross_region_rows, depth_rows, progress_rows, progress_summary
from .reading import current

HISTORY_DAYS = 183  # the half-year a progress report covers
LIANGPING = "500155"


@dataclass(frozen=True)
class ItemView:
    item_id: str
    name: str
    label: str  # the name, and the district for a municipal item's district row
    jurisdiction: str
    department: str
    categories: list[dict[str, Any]]  # depth rows, one per category
    overall: dict[str, Any]
    identity_ratio: float | None
    active_ratio: float | None
    disbursement_share: float | None
    payment_share: float | None
    trend: list[dict[str, Any]]  # {day, level, planned_level, status}, oldest first, today last


@dataclass(frozen=True)
class ConsoleView:
    as_of: str
    lag_seconds: float
    year: int
    items: list[ItemView]
    cross_region: list[dict[str, Any]]
    summary: dict[str, Any]
    liangping: bool  # the scope holds Liangping items: offer the 附件2 form


def _item_view(rows: list[dict[str, Any]], trend: list[dict[str, Any]]) -> ItemView:
    by_category = {r["category"]: r for r in rows}
    overall = by_category.pop("overall")
    own = overall["item_id"].partition(":")[0]
    identity = by_category.get("identity", {})
    disbursement = by_category.get("disbursement", {})
    payment = by_category.get("payment", {})
    return ItemView(
        item_id=overall["item_id"],
        name=overall["name"],
        label=overall["name"] + ("" if own == overall["jurisdiction"] else f"（{overall['jurisdiction']}）"),
        jurisdiction=overall["jurisdiction"],
        department=overall["department"],
        categories=list(by_category.values()),
        overall=overall,
        identity_ratio=identity.get("ratio"),
        active_ratio=identity.get("active_ratio"),
        disbursement_share=disbursement.get("ratio"),
        payment_share=payment.get("agreement_share"),
        trend=trend,
    )


async def console(state: ReportingState, filters: Filters) -> ConsoleView:
    """What the console shows for `filters` (the caller's scope, already narrowed)."""
    stamped = await current(state)
    snap = stamped.snapshot
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in depth_rows(snap, filters):
        grouped.setdefault((row["item_id"], row["jurisdiction"]), []).append(row)
    today = local_day(snap.now)
    since = local_day(snap.now - timedelta(days=HISTORY_DAYS))
    async with state.runner.db.reads.connect() as conn:
        history = await depth_history(conn, sorted({i for i, _ in grouped}), since)
    items = []
    for key, rows in grouped.items():
        overall = rows[-1]
        now = {"day": today, **{k: overall[k] for k in ("level", "planned_level", "status")}}
        items.append(_item_view(rows, [*history.get(key, []), now]))
    department_ok = lambda d: filters.department is None or d == filters.department  # noqa: E731
    uses = cross_region_rows(snap, None, filters.jurisdiction, department_ok)
    summary = progress_summary(progress_rows(snap, filters))
    head = stamped.head()
    liangping = any(i.jurisdiction == LIANGPING for i in items)
    return ConsoleView(head["as_of"], head["lag_seconds"], filters.year, items, uses, summary, liangping)

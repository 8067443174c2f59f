"""Liangping's 附件2 implementation-status form, for the caller's scope (its Liangping items)."""

from __future__ import annotations

from dataclasses import replace

from ..adapters.attachment2 import to_attachment2
from ..adapters.snapshot import ReportingState
from ..domain.depth import Filters, progress_rows
from ..domain.levels import covers, reference_time, version_in_force
from .console import LIANGPING
from .progress import XLSX, Export
from .reading import current

DETAILS = ("description", "function_classes", "business_domain")


async def export_attachment2(state: ReportingState, filters: Filters) -> Export:
    stamped = await current(state)
    snap = stamped.snapshot
    at = reference_time(filters.year, snap.now)
    rows = []
    # Within the caller's scope only: a credential for another district gets an empty form.
    inside = filters.jurisdiction is None or covers(filters.jurisdiction, LIANGPING)
    for row in progress_rows(snap, replace(filters, jurisdiction=LIANGPING)) if inside else []:
        item = version_in_force(snap.items.get(row["item_id"], []), at) or {}
        rows.append({**row, **{k: item.get(k) for k in DETAILS}})
    unit = filters.department or "梁平区"
    head = stamped.head()
    name = f"liangping-attachment2-{filters.year}.xlsx"
    return Export(to_attachment2(rows, unit, stamped.as_of), XLSX, name, head["as_of"], head["lag_seconds"])

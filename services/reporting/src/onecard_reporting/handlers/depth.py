"""The depth query: levels and status against plan, per item, jurisdiction and category."""

from __future__ import annotations

from typing import Any

from ..adapters.snapshot import ReportingState
from ..domain.depth import Filters, depth_rows
from .reading import current


async def depth(state: ReportingState, filters: Filters) -> dict[str, Any]:
    stamped = await current(state)
    return {**stamped.head(), "year": filters.year, "rows": depth_rows(stamped.snapshot, filters)}

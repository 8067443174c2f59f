"""The cross-region query: card uses with each partner region, inbound and outbound, per item."""

from __future__ import annotations

from typing import Any

from ..adapters.snapshot import ReportingState
from ..domain.depth import cross_region_rows
from .reading import current


async def cross_region(
    state: ReportingState, partner: str | None, jurisdiction: str | None, department: str | None
) -> dict[str, Any]:
    stamped = await current(state)
    rows = cross_region_rows(
        stamped.snapshot, partner, jurisdiction, lambda d: department is None or d == department
    )
    return {**stamped.head(), "partner": partner, "rows": rows}

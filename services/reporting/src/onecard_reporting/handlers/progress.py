"""The progress report (the half-yearly form), as JSON or exported as CSV or XLSX."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..adapters.export import to_csv, to_xlsx
from ..adapters.snapshot import ReportingState
from ..domain.depth import Filters, progress_rows, progress_summary
from .reading import current

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Export:
    body: bytes | str
    media_type: str
    filename: str
    as_of: str
    lag_seconds: float


async def progress(state: ReportingState, filters: Filters) -> dict[str, Any]:
    stamped = await current(state)
    rows = progress_rows(stamped.snapshot, filters)
    summary = progress_summary(rows)
    return {**stamped.head(), "year": filters.year, "summary": summary, "rows": rows}


async def export_progress(state: ReportingState, filters: Filters, format: Literal["csv", "xlsx"]) -> Export:
    stamped = await current(state)
    rows = progress_rows(stamped.snapshot, filters)
    head = stamped.head()
    name = f"onecard-progress-{filters.year}.{format}"
    if format == "csv":
        return Export(to_csv(rows), "text/csv; charset=utf-8", name, head["as_of"], head["lag_seconds"])
    as_of = stamped.as_of
    body = to_xlsx(rows, filters.year, as_of, progress_summary(rows))
    return Export(body, XLSX, name, head["as_of"], head["lag_seconds"])

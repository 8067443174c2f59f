"""Reporting routes: depth, cross-region use and the progress report. Read-only, from the snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from onecard_service.auth import Principal, require
from onecard_service.problems import Problem

from ..domain.levels import covers, local_year
from ..export import to_csv, to_xlsx
from ..report import Filters, cross_region_rows, depth_rows, progress_rows, progress_summary
from ..state import ReportingState

READERS = ("admin", "operator", "department")
Region = Annotated[str | None, Query(pattern=r"^\d{6}$")]
Year = Annotated[int | None, Query(ge=2000, le=2100)]


@dataclass(frozen=True)
class Scope:
    department: str | None
    jurisdiction: str | None


def scope_for(caller: Principal, department: str | None, jurisdiction: str | None) -> Scope:
    """A department sees only its own department (and jurisdiction, when its credential has one)."""
    if caller.role != "department":
        return Scope(department, jurisdiction)
    if department is not None and department != caller.department:
        raise Problem(403, "a department may only see its own department's figures")
    own = caller.jurisdiction
    if own and jurisdiction and not covers(own, jurisdiction):
        raise Problem(403, "outside the caller's jurisdiction")
    return Scope(caller.department, jurisdiction or own)


def _json(body: dict[str, Any]) -> Response:
    """Large row lists serialise much faster with orjson than through FastAPI's encoder."""
    return Response(orjson.dumps(body), media_type="application/json")


def _year(year: int | None) -> int:
    return year if year is not None else local_year(datetime.now(UTC))


def router(state: ReportingState) -> APIRouter:
    api = APIRouter(prefix="/reporting/v1")

    async def stamp() -> tuple[Any, dict[str, Any]]:
        snap, as_of = await state.current()
        return snap, {
            "as_of": as_of.isoformat().replace("+00:00", "Z"),
            "lag_seconds": state.lag_seconds(as_of),
        }

    @api.get("/depth", response_model=None)
    async def depth(
        caller: Annotated[Principal, Depends(require(*READERS))],
        jurisdiction: Region = None,
        department: str | None = None,
        item_id: str | None = None,
        category: Literal["identity", "disbursement", "payment", "overall"] | None = None,
        year: Year = None,
    ) -> Response:
        scope = scope_for(caller, department, jurisdiction)
        snap, head = await stamp()
        filters = Filters(_year(year), scope.jurisdiction, scope.department, item_id, category)
        return _json({**head, "year": filters.year, "rows": depth_rows(snap, filters)})

    @api.get("/cross-region")
    async def cross_region(
        caller: Annotated[Principal, Depends(require(*READERS, "partner"))],
        partner: Region = None,
        jurisdiction: Region = None,
        department: str | None = None,
    ) -> dict[str, Any]:
        if caller.role == "partner":
            if partner is not None and partner != caller.region:
                raise Problem(403, "a partner may only see its own region's figures")
            partner = caller.region
            scope = Scope(department, jurisdiction)
        else:
            scope = scope_for(caller, department, jurisdiction)
        snap, head = await stamp()
        rows = cross_region_rows(
            snap, partner, scope.jurisdiction, lambda d: scope.department is None or d == scope.department
        )
        return {**head, "partner": partner, "rows": rows}

    @api.get("/progress", response_model=None)
    async def progress(
        caller: Annotated[Principal, Depends(require(*READERS))],
        department: str | None = None,
        jurisdiction: Region = None,
        year: Year = None,
        format: Literal["json", "csv", "xlsx"] = "json",
    ) -> dict[str, Any] | Response:
        scope = scope_for(caller, department, jurisdiction)
        snap, head = await stamp()
        filters = Filters(_year(year), scope.jurisdiction, scope.department)
        rows = progress_rows(snap, filters)
        summary = progress_summary(rows)
        if format == "json":
            return {**head, "year": filters.year, "summary": summary, "rows": rows}
        headers = {"X-As-Of": head["as_of"], "X-Lag-Seconds": str(head["lag_seconds"])}
        name = f"onecard-progress-{filters.year}"
        if format == "csv":
            headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
            return Response(to_csv(rows), media_type="text/csv; charset=utf-8", headers=headers)
        headers["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
        body = to_xlsx(
            rows, filters.year, datetime.fromisoformat(head["as_of"].replace("Z", "+00:00")), summary
        )
        return Response(
            body,
            media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            headers=headers,
        )

    return api

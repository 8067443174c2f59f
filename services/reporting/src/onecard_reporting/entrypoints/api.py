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

from ..adapters.snapshot import ReportingState
from ..domain.depth import Filters
from ..domain.levels import covers, local_year
from ..handlers.cross_region import cross_region as cross_region_query
from ..handlers.depth import depth as depth_query
from ..handlers.progress import XLSX, export_progress
from ..handlers.progress import progress as progress_query

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


# `format=csv` and `format=xlsx` answer the same report as a file.
EXPORT_TYPES: dict[str, Any] = {
    "text/csv": {"schema": {"type": "string"}},
    XLSX: {"schema": {"type": "string", "format": "binary"}},
}


def router(state: ReportingState) -> APIRouter:
    api = APIRouter(prefix="/reporting/v1")

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
        filters = Filters(_year(year), scope.jurisdiction, scope.department, item_id, category)
        return _json(await depth_query(state, filters))

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
        return await cross_region_query(state, partner, scope.jurisdiction, scope.department)

    @api.get("/progress", response_model=None, responses={200: {"content": EXPORT_TYPES}})
    async def progress(
        caller: Annotated[Principal, Depends(require(*READERS))],
        department: str | None = None,
        jurisdiction: Region = None,
        year: Year = None,
        format: Literal["json", "csv", "xlsx"] = "json",
    ) -> dict[str, Any] | Response:
        scope = scope_for(caller, department, jurisdiction)
        filters = Filters(_year(year), scope.jurisdiction, scope.department)
        if format == "json":
            return await progress_query(state, filters)
        export = await export_progress(state, filters, format)
        headers = {
            "X-As-Of": export.as_of,
            "X-Lag-Seconds": str(export.lag_seconds),
            "Content-Disposition": f'attachment; filename="{export.filename}"',
        }
        return Response(export.body, media_type=export.media_type, headers=headers)

    return api

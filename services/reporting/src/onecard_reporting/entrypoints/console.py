"""The department console under /reporting/console/ (docs/adr/0018): sign in with the
department's client token, kept in an HttpOnly, SameSite=Strict cookie; every figure in the
caller's scope exactly as the API's (`api.scope_for`), from the same handlers."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from onecard_service.auth import Principal, TokenVerifier
from onecard_service.pages import SECURITY_HEADERS, Pages, end_session, session_principal, start_session
from onecard_service.problems import Problem

from ..adapters.snapshot import ReportingState
from ..domain.depth import Filters
from ..handlers.attachment2 import export_attachment2
from ..handlers.console import console
from ..handlers.progress import Export, export_progress
from .api import READERS, _year, scope_for

PREFIX = "/reporting/console"
STATIC = Path(__file__).parent / "static"
ASSETS = {"echarts.min.js": "text/javascript", "console.js": "text/javascript"}
pages = Pages(Path(__file__).parent / "templates")
Year = Annotated[int | None, Query(ge=2000, le=2100)]


def _signed_in(request: Request) -> Principal | None:
    """The caller, or None when not signed in; a token refused (invalid, revoked, or of a role
    that reads no reports) ends the session."""
    caller = session_principal(request)
    if caller is not None and caller.role not in READERS:
        raise Problem(403, f"role {caller.role!r} may not read reports")
    return caller


def _filters(caller: Principal, year: int | None) -> Filters:
    scope = scope_for(caller, None, None)
    return Filters(_year(year), scope.jurisdiction, scope.department)


def _download(export: Export) -> Response:
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{export.filename}"'}
    return Response(export.body, media_type=export.media_type, headers=headers)


def _sign_in_page(message: str | None, status: int) -> HTMLResponse:
    answer = pages.render("console/signin.html", status=status, message=message)
    answer.delete_cookie("onecard_session", path=PREFIX)
    return answer


def router(state: ReportingState) -> APIRouter:
    console_router = APIRouter(prefix=PREFIX, include_in_schema=False)

    async def caller_or_sign_in(request: Request) -> Principal | HTMLResponse:
        try:
            caller = _signed_in(request)
        except Problem as refused:
            return _sign_in_page(f"凭证无效或已吊销，请重新登录。（{refused.detail}）", refused.status)
        return caller if caller is not None else _sign_in_page(None, 200)

    @console_router.get("", response_class=HTMLResponse)
    async def to_console() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=308, headers=SECURITY_HEADERS)

    @console_router.get("/", response_class=HTMLResponse)
    async def home(request: Request, year: Year = None) -> Response:
        caller = await caller_or_sign_in(request)
        if isinstance(caller, Response):
            return caller
        view = await console(state, _filters(caller, year))
        return pages.render("console/console.html", view=view, caller=caller, figures=asdict(view))

    @console_router.post("/session")
    async def sign_in(request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0].strip()
        verifier: TokenVerifier = request.app.state.token_verifier
        try:
            caller = verifier.verify(token) if token else None
        except Problem:
            caller = None
        if caller is None or caller.role not in READERS:
            return _sign_in_page("凭证无效、已吊销或无权查看报表。", 401)
        return start_session(request, f"{PREFIX}/", token, PREFIX)

    @console_router.post("/session/end")
    async def sign_out() -> Response:
        return end_session(f"{PREFIX}/", PREFIX)

    @console_router.get("/progress.{format}")
    async def progress(request: Request, format: Literal["csv", "xlsx"], year: Year = None) -> Response:
        caller = await caller_or_sign_in(request)
        if isinstance(caller, Response):
            return caller
        return _download(await export_progress(state, _filters(caller, year), format))

    @console_router.get("/attachment2.xlsx")
    async def attachment2(request: Request, year: Year = None) -> Response:
        caller = await caller_or_sign_in(request)
        if isinstance(caller, Response):
            return caller
        return _download(await export_attachment2(state, _filters(caller, year)))

    @console_router.get("/static/{name}")
    async def asset(name: str) -> Response:
        if name not in ASSETS:
            raise Problem(404, "no such asset")
        # Shipped with the package and named by version in its README: cacheable for a day.
        headers = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}
        return FileResponse(STATIC / name, media_type=ASSETS[name], headers=headers)

    return console_router

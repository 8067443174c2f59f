"""The public service zone (服务专区) under /catalog/zone/: no login, server-rendered, usable
without JavaScript (docs/adr/0018). Routes parse the query, call the zone's handlers and render."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from onecard_events.aggregate import Refused
from onecard_service.pages import CATEGORY_LABELS, FORM_LABELS, SECURITY_HEADERS, Pages

from ..adapters.queries import ItemFilter
from ..handlers import items, zone
from ..handlers.context import Catalog
from .api import ItemListCache, parse_as_of

PREFIX = "/catalog/zone"
pages = Pages(Path(__file__).parent / "templates")


def _date(value: str | None) -> tuple[datetime | None, str | None]:
    """The chosen date, or (None, a message) for one that is not a date."""
    if not value:
        return None, None
    try:
        return parse_as_of(value), None
    except Refused:
        return None, "日期格式应为 YYYY-MM-DD；已显示今日在用的目录。"


def _choice(value: str | None, allowed: dict[str, str]) -> str | None:
    return value if value in allowed else None


def router(cat: Catalog, cache: ItemListCache) -> APIRouter:
    """The zone's pages; `cache` is the API's cache of item lists (cleared on every change)."""
    pages_router = APIRouter(prefix=PREFIX, include_in_schema=False)

    async def in_force(jurisdiction: str | None, as_of: datetime | None) -> list[dict[str, Any]]:
        key = ("zone", jurisdiction)
        if as_of is None and (cached := cache.get(key)) is not None:
            found: list[dict[str, Any]] = orjson.loads(cached)
            return found
        found = await zone.in_force(cat, jurisdiction, as_of)
        if as_of is None:
            cache.put(key, orjson.dumps(found), await items.next_change(cat))
        return found

    @pages_router.get("", response_class=HTMLResponse)
    async def to_zone() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=308, headers=SECURITY_HEADERS)

    @pages_router.get("/", response_class=HTMLResponse)
    async def catalogue(
        request: Request,
        q: str = "",
        jurisdiction: str | None = None,
        department: str | None = None,
        category: str | None = None,
        card_form: str | None = None,
        date: str | None = None,
        page: Annotated[int, Query(ge=1, le=1000)] = 1,
    ) -> HTMLResponse:
        as_of, warning = _date(date)
        asked = zone.ZoneQuery(
            ItemFilter(
                jurisdiction or None, department or None, _choice(category, CATEGORY_LABELS), as_of=as_of
            ),
            _choice(card_form, FORM_LABELS),
            q.strip()[:100],
            page,
        )
        found = await zone.catalogue(cat, asked, await in_force(asked.items.jurisdiction, as_of))
        names = {j["code"]: j["name"] for j in found.jurisdictions}
        return pages.render(
            "zone/catalogue.html",
            found=found,
            asked=asked,
            date=date if as_of else "",
            warning=warning,
            names=names,
            page_link=lambda n: _page_link(request, n),
        )

    @pages_router.get("/items/{item_id}", response_class=HTMLResponse)
    async def item(item_id: str, date: str | None = None) -> HTMLResponse:
        as_of, warning = _date(date)
        try:
            found, venues, names = await zone.item_with_venues(cat, item_id, as_of)
        except Refused as refused:
            if refused.status != 404:
                raise
            return pages.render("zone/missing.html", status=404, item_id=item_id)
        plan = sorted((str(y), level) for y, level in (found.get("plan") or {}).items())
        context: dict[str, Any] = {"item": found, "venues": venues, "names": names, "plan": plan}
        return pages.render("zone/item.html", date=date if as_of else "", warning=warning, **context)

    return pages_router


def _page_link(request: Request, page: int) -> str:
    """The same search, another page (relative, so it works under any mount)."""
    params = {k: v for k, v in request.query_params.items() if k != "page" and v}
    return "?" + urlencode({**params, "page": page})

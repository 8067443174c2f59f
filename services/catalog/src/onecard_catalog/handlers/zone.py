"""The public service zone's reads (服务专区): the catalogue in force, filtered and searched, and
one item with the venues where it is offered. Only public data: a venue's name, place and the
card forms its terminals take; never a client, a terminal's id or any figure of use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..adapters import queries
from .context import Catalog, read
from .items import get_item

PAGE_SIZE = 30


@dataclass(frozen=True)
class ZoneQuery:
    """What a resident asked for: filters, a search text, a date and a page."""

    items: queries.ItemFilter  # jurisdiction, department, category and date; kind and status unused
    card_form: str | None = None
    text: str = ""
    page: int = 1


def matches(item: dict[str, Any], query: ZoneQuery) -> bool:
    """Whether the item passes the card form filter and holds every word of the search text in
    its name or description (substring match: Chinese is not written with spaces)."""
    if query.card_form and query.card_form not in item.get("card_forms", []):
        return False
    haystack = f"{item.get('name', '')} {item.get('description', '')}".casefold()
    return all(word in haystack for word in query.text.casefold().split())


@dataclass(frozen=True)
class CataloguePage:
    items: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    jurisdictions: list[dict[str, Any]]
    departments: list[str]


async def in_force(cat: Catalog, jurisdiction: str | None, as_of: datetime | None) -> list[dict[str, Any]]:
    """The items in force at `as_of` (None: now) in `jurisdiction` (None: all)."""
    return await read(cat, queries.list_items, queries.ItemFilter(jurisdiction=jurisdiction, as_of=as_of))


async def catalogue(cat: Catalog, query: ZoneQuery, listed: list[dict[str, Any]]) -> CataloguePage:
    """The page asked for, from `listed`: the items in force in the query's jurisdiction."""
    asked = query.items
    # The department list offered is that of the jurisdiction's catalogue, whatever else is chosen.
    departments = sorted({i["department"] for i in listed if i.get("department")})
    chosen = [
        i
        for i in listed
        if (not asked.department or i.get("department") == asked.department)
        and (not asked.category or asked.category in i.get("categories", []))
        and matches(i, query)
    ]
    pages = max(1, -(-len(chosen) // PAGE_SIZE))
    page = min(max(1, query.page), pages)
    shown = chosen[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    divisions = await read(cat, queries.list_jurisdictions)
    return CataloguePage(shown, len(chosen), page, pages, divisions, departments)


def public_venue(venue: dict[str, Any]) -> dict[str, Any]:
    """A venue as the zone shows it: the card forms its working terminals take, no terminal ids."""
    forms = {form for t in venue["terminals"] if t["active"] for form in t["card_forms"]}
    return {
        "name": venue["name"],
        "jurisdiction": venue["jurisdiction"],
        "card_forms": [f for f in ("physical", "electronic") if f in forms],
    }


async def item_with_venues(
    cat: Catalog, item_id: str, as_of: datetime | None
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, str]]:
    """The item in force at `as_of` (404 as the API's), its venues, and jurisdiction names."""
    item = await get_item(cat, item_id, as_of)
    venues = [public_venue(v) for v in await read(cat, queries.list_venues, item_id, None)]
    names = {j["code"]: j["name"] for j in await read(cat, queries.list_jurisdictions)}
    return item, venues, names

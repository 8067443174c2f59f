"""The catalogue's HTTP routes (/catalog/v1): parse, authorise, call a handler, shape the answer.

Reads need a valid credential of any role (the catalogue is public information, but venues,
merchants and clients are not, and one rule for every GET keeps the surface simple); catalogue
and client changes need `admin`; venues, terminals and merchants `admin` or `operator`.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from datetime import time as dtime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response, Security
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from onecard_service.auth import Principal, principal, require
from onecard_service.problems import Problem, not_found, problem_response
from pydantic import BaseModel, ConfigDict, Field

from .. import handlers
from ..adapters import queries
from ..domain.clients import ClientRequest
from ..domain.errors import Rejected, invalid

PREFIX = "/catalog/v1"
Caller = Annotated[Principal, Depends(principal)]
Admin = Annotated[Principal, Depends(require("admin"))]
Staff = Annotated[Principal, Depends(require("admin", "operator"))]


class JurisdictionIn(BaseModel):
    code: str
    name: str
    kind: Literal["municipal", "district", "county", "partner"]


class ItemIn(BaseModel):
    """An item; fields beyond the contract's are kept as given. On PUT, `version` (optional) is
    the version the change is based on: a stale one is refused with 409."""

    model_config = ConfigDict(extra="allow")
    item_id: str | None = None
    jurisdiction: str | None = None
    seq: int | str | None = None
    kind: Literal["service", "support"]
    name: str
    description: str = ""
    department: str | None = None
    cooperating_departments: list[str] = []
    card_forms: list[str] = []
    categories: list[str] = []
    plan: dict[str, Any] = Field(default_factory=dict, examples=[{"2025": 2, "2026": 3}])
    plan_note: str | None = None
    function_classes: list[str] = []
    completion: dict[str, str | None] | None = None
    version: int | None = None


class VenueIn(BaseModel):
    venue_id: str
    name: str = Field(min_length=1, max_length=200)
    jurisdiction: str
    item_id: str


class TerminalIn(BaseModel):
    terminal_id: str
    card_forms: list[str]


class MerchantIn(BaseModel):
    merchant_id: str
    name: str = Field(min_length=1, max_length=200)
    jurisdiction: str
    item_id: str


class ClientIn(BaseModel):
    role: str
    name: str = Field(min_length=1, max_length=200)
    venues: list[str] = []
    merchants: list[str] = []
    department: str | None = None
    jurisdiction: str | None = None
    region: str | None = None


class ItemListCache:
    """Serialized answers of GET /items without as_of, keyed by the filters.

    Cleared on every item change made in this process. Another replica's change is seen within
    `ttl` seconds (0: never stale, for a single process such as the embedded platform).
    """

    def __init__(self, ttl: float | None) -> None:
        self.ttl = ttl
        self._entries: dict[tuple[str | None, ...], tuple[float, bytes]] = {}

    def get(self, key: tuple[str | None, ...]) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None or (self.ttl is not None and time.monotonic() - entry[0] > self.ttl):
            return None
        return entry[1]

    def put(self, key: tuple[str | None, ...], body: bytes) -> None:
        self._entries[key] = (time.monotonic(), body)

    def clear(self) -> None:
        self._entries.clear()


def parse_as_of(value: str | None) -> datetime | None:
    """RFC 3339 time, or a date meaning its start (00:00 UTC); naive times are taken as UTC."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), dtime(), tzinfo=UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid("as_of", "must be an RFC 3339 time or a date (YYYY-MM-DD)") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def install_error_handler(app: FastAPI) -> None:
    async def on_rejected(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Rejected)
        errors = [{"field": f, "message": m} for f, m in exc.errors] if exc.errors else None
        title = "Validation failed" if exc.status == 422 else None
        type_ = "urn:onecard:problem:validation" if exc.status == 422 else None
        return problem_response(Problem(exc.status, exc.message, title=title, type_=type_, errors=errors))

    app.add_exception_handler(Rejected, on_rejected)


def router(cat: handlers.Catalog, cache: ItemListCache) -> APIRouter:
    # auto_error=False: the scheme only documents the bearer token; `principal` enforces it.
    api = APIRouter(prefix=PREFIX, dependencies=[Security(HTTPBearer(auto_error=False))])
    cat.on_items_changed.append(cache.clear)

    @api.get("/jurisdictions", summary="The jurisdictions the catalogue knows")
    async def jurisdictions(_: Caller) -> Response:
        async with cat.db.engine.connect() as conn:
            return _json(await queries.list_jurisdictions(conn))

    @api.post("/jurisdictions", status_code=201, summary="Add a jurisdiction (admin)")
    async def add_jurisdiction(body: JurisdictionIn, _: Admin) -> Response:
        return _json(await handlers.add_jurisdiction(cat, body.code, body.name, body.kind), 201)

    @api.get("/items", summary="Items, filtered; as_of gives the versions in force then")
    async def list_items(
        _: Caller,
        jurisdiction: str | None = None,
        department: str | None = None,
        category: Literal["identity", "disbursement", "payment"] | None = None,
        kind: Literal["service", "support"] | None = None,
        status: Annotated[Literal["active", "retired", "all"], Query()] = "active",
        as_of: str | None = None,
    ) -> Response:
        when = parse_as_of(as_of)
        key = (jurisdiction, department, category, kind, status)
        if when is None and (cached := cache.get(key)) is not None:
            return Response(cached, media_type="application/json")
        wanted = queries.ItemFilter(
            jurisdiction, department, category, kind, None if status == "all" else status, when
        )
        async with cat.db.engine.connect() as conn:
            body = orjson.dumps(await queries.list_items(conn, wanted))
        if when is None:
            cache.put(key, body)
        return Response(body, media_type="application/json")

    @api.get("/items/{item_id}", summary="One item; as_of gives the version in force then")
    async def get_item(item_id: str, _: Caller, as_of: str | None = None) -> Response:
        when = parse_as_of(as_of)
        async with cat.db.engine.connect() as conn:
            item = await queries.get_item(conn, item_id, when)
            if item is None and not await queries.item_exists(conn, item_id):
                raise not_found("item", item_id)
        if item is None:
            raise Problem(404, f"item {item_id!r} was not in force at {as_of}")
        return _json(item)

    @api.post("/items", status_code=201, summary="Publish a new item (admin)")
    async def publish_item(body: ItemIn, _: Admin) -> Response:
        return _json(await handlers.publish_item(cat, body.model_dump(exclude={"version"})), 201)

    @api.put("/items/{item_id}", summary="Publish a new version of an item (admin)")
    async def revise_item(item_id: str, body: ItemIn, _: Admin) -> Response:
        return _json(await handlers.revise_item(cat, item_id, body.model_dump()))

    @api.delete("/items/{item_id}", summary="Retire an item, keeping its history (admin)")
    async def retire_item(item_id: str, _: Admin) -> Response:
        return _json(await handlers.retire_item(cat, item_id))

    async def one_venue(venue_id: str) -> dict[str, Any]:
        async with cat.db.engine.connect() as conn:
            found = await queries.list_venues(conn, None, None, venue_id)
        if not found:
            raise not_found("venue", venue_id)
        return found[0]

    @api.post(
        "/venues",
        status_code=201,
        summary="Register a venue of an identity item (admin, operator)",
        description="422 (field item_id) for an unknown or retired item or one without the identity "
        "category; 422 (field jurisdiction) for an unknown jurisdiction or one outside the item's; "
        "409 for a venue_id registered already.",
    )
    async def register_venue(body: VenueIn, _: Staff) -> Response:
        await handlers.register_venue(cat, body.venue_id, body.name, body.jurisdiction, body.item_id)
        return _json(await one_venue(body.venue_id), 201)

    @api.get("/venues", summary="Venues with their terminals")
    async def list_venues(_: Caller, item_id: str | None = None, jurisdiction: str | None = None) -> Response:
        async with cat.db.engine.connect() as conn:
            return _json(await queries.list_venues(conn, item_id, jurisdiction))

    @api.get("/venues/{venue_id}", summary="One venue with its terminals")
    async def get_venue(venue_id: str, _: Caller) -> Response:
        return _json(await one_venue(venue_id))

    @api.post("/venues/{venue_id}/terminals", status_code=201, summary="Deploy a terminal (admin, operator)")
    async def deploy_terminal(venue_id: str, body: TerminalIn, _: Staff) -> Response:
        await handlers.deploy_terminal(cat, venue_id, body.terminal_id, body.card_forms)
        terminal = {"terminal_id": body.terminal_id, "card_forms": body.card_forms, "active": True}
        return _json({"venue_id": venue_id, **terminal}, 201)

    @api.delete(
        "/venues/{venue_id}/terminals/{terminal_id}", status_code=204, summary="Decommission a terminal"
    )
    async def decommission_terminal(venue_id: str, terminal_id: str, _: Staff) -> Response:
        await handlers.decommission_terminal(cat, venue_id, terminal_id)
        return Response(status_code=204)

    async def one_merchant(merchant_id: str) -> dict[str, Any]:
        async with cat.db.engine.connect() as conn:
            found = await queries.list_merchants(conn, None, None, merchant_id)
        if not found:
            raise not_found("merchant", merchant_id)
        return found[0]

    @api.post(
        "/merchants", status_code=201, summary="Register a merchant of a payment item (admin, operator)"
    )
    async def register_merchant(body: MerchantIn, _: Staff) -> Response:
        await handlers.register_merchant(cat, body.merchant_id, body.name, body.jurisdiction, body.item_id)
        return _json(await one_merchant(body.merchant_id), 201)

    @api.get("/merchants", summary="Merchants")
    async def list_merchants(
        _: Caller, item_id: str | None = None, jurisdiction: str | None = None
    ) -> Response:
        async with cat.db.engine.connect() as conn:
            return _json(await queries.list_merchants(conn, item_id, jurisdiction))

    @api.get("/merchants/{merchant_id}", summary="One merchant")
    async def get_merchant(merchant_id: str, _: Caller) -> Response:
        return _json(await one_merchant(merchant_id))

    @api.put("/merchants/{merchant_id}/ecard-agreement", summary="The merchant joins the e-card agreement")
    async def join_agreement(merchant_id: str, _: Staff) -> Response:
        await handlers.set_agreement(cat, merchant_id, True)
        return _json(await one_merchant(merchant_id))

    @api.delete(
        "/merchants/{merchant_id}/ecard-agreement", summary="The merchant leaves the e-card agreement"
    )
    async def leave_agreement(merchant_id: str, _: Staff) -> Response:
        await handlers.set_agreement(cat, merchant_id, False)
        return _json(await one_merchant(merchant_id))

    @api.post("/clients", status_code=201, summary="Register an API client and issue its token once (admin)")
    async def register_client(body: ClientIn, _: Admin) -> Response:
        request = ClientRequest(
            body.role,
            body.name,
            tuple(body.venues),
            tuple(body.merchants),
            body.department,
            body.jurisdiction,
            body.region,
        )
        return _json(await handlers.register_client(cat, request), 201)

    @api.get("/clients/{client_id}", summary="A client's scope and status, without its token (admin)")
    async def get_client(client_id: str, _: Admin) -> Response:
        async with cat.db.engine.connect() as conn:
            found = await queries.get_client(conn, client_id)
        if found is None:
            raise not_found("client", client_id)
        return _json(found)

    @api.delete("/clients/{client_id}", status_code=204, summary="Revoke a client on every service (admin)")
    async def revoke_client(client_id: str, _: Admin) -> Response:
        await handlers.revoke_client(cat, client_id)
        return Response(status_code=204)

    return api

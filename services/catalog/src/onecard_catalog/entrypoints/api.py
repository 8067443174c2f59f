"""The catalogue's HTTP routes (/catalog/v1): parse, authorise, call a handler, shape the answer.

Reads need a valid credential of any role (the catalogue is public information, but venues,
merchants and clients are not, and one rule for every GET keeps the surface simple); catalogue
and client changes need `admin`; venues, terminals and merchants `admin` or `operator`.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Response
from onecard_events.times import parse_rfc3339, rfc3339, utcnow
from onecard_service.auth import Principal, Role, principal, require
from pydantic import BaseModel, ConfigDict, Field

from ..adapters.queries import ItemFilter
from ..domain.clients import ClientRequest
from ..domain.errors import invalid
from ..domain.places import CODE, LOCAL_ID
from ..handlers import clients, items, places
from ..handlers import jurisdictions as divisions
from ..handlers.context import Catalog

PREFIX = "/catalog/v1"
Caller = Annotated[Principal, Depends(principal)]
Admin = Annotated[Principal, Depends(require("admin"))]
Staff = Annotated[Principal, Depends(require("admin", "operator"))]


# Rules the domain checks, every field at once, stated in the schema too.
NAME = Field(min_length=1, max_length=200, json_schema_extra={"pattern": r"\S"})


def matching(pattern: re.Pattern[str]) -> Any:
    return Field(json_schema_extra={"pattern": pattern.pattern})


class JurisdictionIn(BaseModel):
    code: str = matching(CODE)
    name: str = Field(json_schema_extra={"pattern": r"\S"})
    kind: Literal["municipal", "district", "county", "partner"]


class ItemIn(BaseModel):
    """An item; fields beyond the contract's are kept as given. On PUT, `version` (optional) is
    the version the change is based on: a stale one is refused with 409. `effective_from`
    (optional, RFC 3339 with an offset; also taken as a query parameter) is when the version takes
    effect: default now."""

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
    effective_from: str | None = None


class VenueIn(BaseModel):
    venue_id: str = matching(LOCAL_ID)
    name: str = NAME
    jurisdiction: str
    item_id: str


class TerminalIn(BaseModel):
    terminal_id: str
    card_forms: list[str]


class MerchantIn(BaseModel):
    merchant_id: str = matching(LOCAL_ID)
    name: str = NAME
    jurisdiction: str
    item_id: str


# A token's lifetime when one is asked for: a second to ten years.
ExpiresIn = Annotated[int | None, Field(ge=1, le=3650 * 86400, description="seconds until the token expires")]


class TokenIn(BaseModel):
    expires_in: ExpiresIn = None


class ClientIn(BaseModel):
    role: Role
    expires_in: ExpiresIn = None
    name: str = Field(min_length=1, max_length=200)
    venues: list[str] = []
    merchants: list[str] = []
    department: str | None = None
    jurisdiction: str | None = None
    region: str | None = None


class ItemListCache:
    """Serialized answers of GET /items without as_of, keyed by the filters.

    Cleared on every item change made in this process. Another replica's change is seen within
    `ttl` seconds (0: never stale, for a single process such as the embedded platform). An answer
    is also dropped once a version recorded to take effect later does (a dated PUT or DELETE).
    """

    def __init__(self, ttl: float | None) -> None:
        self.ttl = ttl
        self._entries: dict[tuple[str | None, ...], tuple[float, bytes]] = {}
        self._until: datetime | None = None

    def get(self, key: tuple[str | None, ...]) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None or (self.ttl is not None and time.monotonic() - entry[0] > self.ttl):
            return None
        if self._until is not None and utcnow() >= self._until:
            self.clear()  # a recorded version has taken effect since: every list may differ
            return None
        return entry[1]

    def put(self, key: tuple[str | None, ...], body: bytes, until: datetime | None = None) -> None:
        """Keep `body`; `until`: when the next recorded version takes effect (None: none ahead)."""
        self._entries[key] = (time.monotonic(), body)
        if until is not None and (self._until is None or until < self._until):
            self._until = until

    def clear(self) -> None:
        self._entries.clear()
        self._until = None


def parse_as_of(value: str | None) -> datetime | None:
    """RFC 3339 time, or a date meaning its start (00:00 UTC); naive times are taken as UTC."""
    if value is None:
        return None
    try:
        return parse_rfc3339(value).astimezone(UTC)
    except ValueError:
        raise invalid("as_of", "must be an RFC 3339 time or a date (YYYY-MM-DD)") from None


def parse_effective_from(*given: str | None) -> str | None:
    """The moment a change takes effect, as RFC 3339 in UTC; None (now) when not given. A full
    time with an offset is required: a bare date would leave open whose midnight it means."""
    values = {v for v in given if v is not None}
    if not values:
        return None
    problem = "must be an RFC 3339 time with an offset, e.g. 2025-07-01T00:00:00+08:00"
    moments = set()
    for value in values:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise invalid("effective_from", problem) from None
        if len(value) <= 10 or moment.tzinfo is None:
            raise invalid("effective_from", problem)
        moments.add(moment)
    if len(moments) > 1:
        raise invalid("effective_from", "the query parameter and the body name different moments")
    return rfc3339(moments.pop())


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def router(cat: Catalog, cache: ItemListCache) -> APIRouter:
    # auto_error=False: the scheme only documents the bearer token; `principal` enforces it.
    api = APIRouter(prefix=PREFIX)
    cat.on_items_changed.append(cache.clear)

    @api.get("/jurisdictions", summary="The jurisdictions the catalogue knows")
    async def jurisdictions(_: Caller) -> Response:
        return _json(await divisions.list_jurisdictions(cat))

    @api.post("/jurisdictions", status_code=201, summary="Add a jurisdiction (admin)")
    async def add_jurisdiction(body: JurisdictionIn, _: Admin) -> Response:
        return _json(await divisions.add_jurisdiction(cat, body.code, body.name, body.kind), 201)

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
        chosen = None if status == "all" else status
        wanted = ItemFilter(jurisdiction, department, category, kind, chosen, when)
        body = orjson.dumps(await items.list_items(cat, wanted))
        if when is None:
            cache.put(key, body, await items.next_change(cat))
        return Response(body, media_type="application/json")

    @api.get(
        "/items/{item_id}",
        summary="One item; as_of gives the version in force then",
        description="The version in force at as_of (default now): of the versions with "
        "effective_from <= as_of, the one with the greatest effective_from, ties going to the one "
        "recorded last. 404 (code not_yet_in_force or no_longer_in_force) when none was.",
    )
    async def get_item(item_id: str, _: Caller, as_of: str | None = None) -> Response:
        return _json(await items.get_item(cat, item_id, parse_as_of(as_of)))

    @api.post("/items", status_code=201, summary="Publish a new item (admin)")
    async def publish_item(body: ItemIn, _: Admin, effective_from: str | None = None) -> Response:
        when = parse_effective_from(effective_from, body.effective_from)
        raw = body.model_dump(exclude={"version", "effective_from"})
        return _json(await items.publish_item(cat, raw, when), 201)

    @api.put(
        "/items/{item_id}",
        summary="Publish a new version of an item (admin), in force from effective_from (default now)",
        description="Answers the version recorded (which may take effect later).",
    )
    async def revise_item(
        item_id: str, body: ItemIn, _: Admin, effective_from: str | None = None
    ) -> Response:
        when = parse_effective_from(effective_from, body.effective_from)
        return _json(await items.revise_item(cat, item_id, body.model_dump(exclude={"effective_from"}), when))

    @api.delete(
        "/items/{item_id}",
        summary="Retire an item from effective_from (default now), keeping its history (admin)",
        description="Answers the retirement recorded. 422 (field effective_from) for a date before "
        "a recorded version of the item takes effect.",
    )
    async def retire_item(item_id: str, _: Admin, effective_from: str | None = None) -> Response:
        return _json(await items.retire_item(cat, item_id, parse_effective_from(effective_from)))

    @api.post(
        "/venues",
        status_code=201,
        summary="Register a venue of an identity item (admin, operator)",
        description="422 (field item_id) for an unknown or retired item or one without the identity "
        "category; 422 (field jurisdiction) for an unknown jurisdiction or one outside the item's; "
        "409 for a venue_id registered already.",
    )
    async def register_venue(body: VenueIn, _: Staff) -> Response:
        venue = await places.register_venue(cat, body.venue_id, body.name, body.jurisdiction, body.item_id)
        return _json(venue, 201)

    @api.get("/venues", summary="Venues with their terminals")
    async def list_venues(_: Caller, item_id: str | None = None, jurisdiction: str | None = None) -> Response:
        return _json(await places.list_venues(cat, item_id, jurisdiction))

    @api.get("/venues/{venue_id}", summary="One venue with its terminals")
    async def get_venue(venue_id: str, _: Caller) -> Response:
        return _json(await places.get_venue(cat, venue_id))

    @api.post("/venues/{venue_id}/terminals", status_code=201, summary="Deploy a terminal (admin, operator)")
    async def deploy_terminal(venue_id: str, body: TerminalIn, _: Staff) -> Response:
        await places.deploy_terminal(cat, venue_id, body.terminal_id, body.card_forms)
        terminal = {"terminal_id": body.terminal_id, "card_forms": body.card_forms, "active": True}
        return _json({"venue_id": venue_id, **terminal}, 201)

    @api.delete(
        "/venues/{venue_id}/terminals/{terminal_id}", status_code=204, summary="Decommission a terminal"
    )
    async def decommission_terminal(venue_id: str, terminal_id: str, _: Staff) -> Response:
        await places.decommission_terminal(cat, venue_id, terminal_id)
        return Response(status_code=204)

    @api.post(
        "/merchants", status_code=201, summary="Register a merchant of a payment item (admin, operator)"
    )
    async def register_merchant(body: MerchantIn, _: Staff) -> Response:
        merchant = await places.register_merchant(
            cat, body.merchant_id, body.name, body.jurisdiction, body.item_id
        )
        return _json(merchant, 201)

    @api.get("/merchants", summary="Merchants")
    async def list_merchants(
        _: Caller, item_id: str | None = None, jurisdiction: str | None = None
    ) -> Response:
        return _json(await places.list_merchants(cat, item_id, jurisdiction))

    @api.get("/merchants/{merchant_id}", summary="One merchant")
    async def get_merchant(merchant_id: str, _: Caller) -> Response:
        return _json(await places.get_merchant(cat, merchant_id))

    @api.put("/merchants/{merchant_id}/ecard-agreement", summary="The merchant joins the e-card agreement")
    async def join_agreement(merchant_id: str, _: Staff) -> Response:
        return _json(await places.set_agreement(cat, merchant_id, True))

    @api.delete(
        "/merchants/{merchant_id}/ecard-agreement", summary="The merchant leaves the e-card agreement"
    )
    async def leave_agreement(merchant_id: str, _: Staff) -> Response:
        return _json(await places.set_agreement(cat, merchant_id, False))

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
        return _json(await clients.register_client(cat, request, body.expires_in), 201)

    @api.post(
        "/clients/{client_id}/tokens",
        status_code=201,
        summary="Issue another token for a client, to rotate its credential (admin): "
        "its other tokens stay valid until they expire or the client is revoked",
    )
    async def issue_token(client_id: str, _: Admin, body: TokenIn | None = None) -> Response:
        return _json(await clients.issue_token(cat, client_id, body.expires_in if body else None), 201)

    @api.get("/clients/{client_id}", summary="A client's scope and status, without its token (admin)")
    async def get_client(client_id: str, _: Admin) -> Response:
        return _json(await clients.get_client(cat, client_id))

    @api.delete("/clients/{client_id}", status_code=204, summary="Revoke a client on every service (admin)")
    async def revoke_client(client_id: str, _: Admin) -> Response:
        await clients.revoke_client(cat, client_id)
        return Response(status_code=204)

    return api

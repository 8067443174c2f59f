"""Identity routes: parse, authorise, call a handler, shape the response (masked, never in clear)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path
from onecard_events.times import utcnow
from onecard_service.auth import Principal, require
from onecard_service.idempotency import IdempotencyKey
from onecard_service.problems import Problem
from pydantic import AwareDatetime, BaseModel, Field

from ..adapters.context import Identity
from ..adapters.offline.keys import published_bundle_keys
from ..domain.cards import CARD_NO, REGION, Status
from ..handlers import cards, keys, partners
from ..handlers.cards import CardView
from ..handlers.verification import CardRead, verify

PREFIX = "/identity/v1"
CardNo = Annotated[str, Path(pattern=r"^[0-9A-Z]{9}$", description="9-character card number")]
Region = Annotated[str, Path(pattern=r"^\d{6}$")]
Kid = Annotated[str, Path(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]
Staff = Annotated[Principal, Depends(require("admin", "operator"))]


class CardIn(BaseModel):
    # The rules are stated in the schema and checked by the domain, which reports every field's
    # problem at once (pydantic would stop before the ssn's check digit).
    card_no: str = Field(max_length=32, json_schema_extra={"pattern": CARD_NO.pattern})
    ssn: str = Field(
        max_length=32,
        description="18 characters; its check digit is checked too",
        json_schema_extra={"pattern": r"^\d{17}[\dX]$"},
    )
    name: str = Field(max_length=200, json_schema_extra={"minLength": 1})
    issuer_region: str = Field(max_length=12, json_schema_extra={"pattern": REGION.pattern})


class StatusIn(BaseModel):
    status: Status


class CodeOut(BaseModel):
    qr: str
    expires_at: str


class PhysicalIn(BaseModel):
    venue_id: str = Field(max_length=100)
    terminal_id: str = Field(max_length=100)
    method: Literal["physical"]
    card: CardIn


class ElectronicIn(BaseModel):
    venue_id: str = Field(max_length=100)
    terminal_id: str = Field(max_length=100)
    method: Literal["electronic"]
    qr: str = Field(max_length=4096)


class VerificationOut(BaseModel):
    verification_id: str
    verified: bool
    reason: str | None
    holder_ref: str | None
    cross_region: bool


class PartnerKeyIn(BaseModel):
    public_key: str = Field(max_length=1000, description="base64 of the 32 raw bytes, or PEM")


class HotlistIn(BaseModel):
    card_no: str | None = Field(default=None, max_length=32)
    card_subject: str | None = Field(default=None, max_length=128)
    status: partners.HotlistStatus
    changed_at: AwareDatetime | None = None


def _partner_admin(region: str, caller: Principal) -> None:
    """Admins, or the partner region itself, manage a partner's keys and hotlist."""
    if caller.role == "partner" and caller.region != region:
        raise Problem(403, "a partner client manages only its own region")


def routes(ctx: Identity) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["identity"])
    _card_routes(router, ctx)
    _verification_routes(router, ctx)
    _partner_routes(router, ctx)
    return router


def _card_routes(router: APIRouter, ctx: Identity) -> None:
    @router.post("/cards", status_code=201, response_model=CardView)
    async def register(body: CardIn, _: Staff) -> dict[str, Any]:
        return asdict(await cards.register_card(ctx, body.card_no, body.ssn, body.name, body.issuer_region))

    @router.get("/cards/{card_no}", response_model=CardView)
    async def show(card_no: CardNo, _: Staff) -> dict[str, Any]:
        return asdict(await cards.show_card(ctx, card_no))

    @router.post("/cards/{card_no}/status", response_model=CardView)
    async def change_status(card_no: CardNo, body: StatusIn, _: Staff) -> dict[str, Any]:
        return asdict(await cards.change_status(ctx, card_no, body.status))

    @router.post("/cards/{card_no}/ecard", response_model=CardView)
    async def issue_ecard(card_no: CardNo, _: Staff) -> dict[str, Any]:
        return asdict(await cards.issue_ecard(ctx, card_no))

    @router.post("/cards/{card_no}/qr", response_model=CodeOut)
    async def issue_code(card_no: CardNo, _: Staff) -> dict[str, Any]:
        return asdict(await cards.issue_code(ctx, card_no))


# Who may verify, and the body as validated: shared with the plain ASGI path (fast.py).
VERIFYING = ("admin", "operator", "venue")
VerificationIn = Annotated[PhysicalIn | ElectronicIn, Field(discriminator="method")]


async def verify_request(
    ctx: Identity, body: PhysicalIn | ElectronicIn, caller: Principal, key: str | None
) -> dict[str, Any]:
    where = (ctx, caller, body.venue_id, body.terminal_id)
    if isinstance(body, PhysicalIn):
        read = CardRead(body.card.card_no, body.card.ssn, body.card.name, body.card.issuer_region)
        result = await verify(*where, "physical", card=read, idempotency_key=key)
    else:
        result = await verify(*where, "electronic", qr=body.qr, idempotency_key=key)
    return dict(vars(result))  # its fields in order, flat: what asdict gives, without its deep copy


def _verification_routes(router: APIRouter, ctx: Identity) -> None:
    # Declared here for the OpenAPI document and for requests off the usual path; the usual ones
    # are answered by entrypoints/fast.py with the same rules.
    @router.post("/verifications", response_model=VerificationOut)
    async def verification(
        body: VerificationIn,
        caller: Annotated[Principal, Depends(require(*VERIFYING))],
        key: IdempotencyKey = None,
    ) -> dict[str, Any]:
        return await verify_request(ctx, body, caller, key)


def _partner_routes(router: APIRouter, ctx: Identity) -> None:
    @router.put("/partners/{region}/keys/{kid}")
    async def put_key(
        region: Region,
        kid: Kid,
        body: PartnerKeyIn,
        caller: Annotated[Principal, Depends(require("admin", "partner"))],
    ) -> dict[str, str]:
        _partner_admin(region, caller)
        await partners.put_partner_key(ctx, region, kid, body.public_key)
        return {"region": region, "kid": kid}

    @router.post("/partners/{region}/hotlist")
    async def hotlist(
        region: Region,
        body: HotlistIn,
        caller: Annotated[Principal, Depends(require("admin", "partner"))],
    ) -> dict[str, str]:
        _partner_admin(region, caller)
        change = partners.HotlistChange(
            region, body.status, body.changed_at or utcnow(), body.card_no, body.card_subject
        )
        await partners.change_partner_hotlist(ctx, change)
        return {"region": region, "status": body.status}

    @router.get("/keys")
    async def published_keys() -> list[dict[str, str | bool]]:
        """Our region's public keys (public): for e-card codes (partners check our codes with
        them) and, once a bundle was served, for offline bundles (`use` tells them apart)."""
        codes = [{**key, "use": "ecard-code"} for key in await ctx.keys.published()]
        return codes + await published_bundle_keys(ctx.db, ctx.region)

    @router.post("/signing-keys/rotate")
    async def rotate(_: Annotated[Principal, Depends(require("admin"))]) -> dict[str, str]:
        return {"kid": await keys.rotate_signing_key(ctx)}

"""Offline validators' routes: the bundle, the upload of taps, the findings (docs/offline-validators.md)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from onecard_contracts.offline_taps import Finding
from onecard_events.times import RFC3339_TIME, parse_rfc3339
from onecard_service.auth import Principal, require
from onecard_service.problems import invalid
from pydantic import AwareDatetime, BaseModel, Field

from ..adapters.offline.context import Offline
from ..handlers.offline.bundle import offline_bundle
from ..handlers.offline.findings import offline_findings
from ..handlers.offline.upload import UploadedTap, upload_taps
from ..handlers.verification import CardRead
from .api import PREFIX, CardIn

Venue = Annotated[Principal, Depends(require("admin", "operator", "venue"))]
MAX_TAPS = 1000


class BundleOut(BaseModel):
    bundle: str = Field(description="compact JWS signed with the platform's offline-bundle key")
    kid: str
    version: int
    since: int | None
    expires_at: int


class DecisionIn(BaseModel):
    verified: bool
    reason: str | None = Field(default=None, max_length=40)


class TapIn(BaseModel):
    sequence: int = Field(ge=0, le=2**62)
    occurred_at: AwareDatetime
    method: Literal["physical", "electronic"]
    qr: str | None = Field(default=None, max_length=4096)
    card: CardIn | None = None
    bundle_version: int | None = Field(default=None, ge=0)
    bundle_issued_at: int | None = Field(default=None, ge=0, description="the bundle's iat, Unix seconds")
    decision: DecisionIn

    def uploaded(self) -> UploadedTap:
        card = self.card
        read = CardRead(card.card_no, card.ssn, card.name, card.issuer_region) if card is not None else None
        return UploadedTap(
            sequence=self.sequence,
            occurred_at=self.occurred_at,
            method=self.method,
            validator_verified=self.decision.verified,
            validator_reason=self.decision.reason,
            bundle_version=self.bundle_version,
            bundle_issued_at=self.bundle_issued_at,
            qr=self.qr if self.method == "electronic" else None,
            card=read if self.method == "physical" else None,
        )


class UploadIn(BaseModel):
    venue_id: str = Field(max_length=100)
    terminal_id: str = Field(max_length=100)
    taps: list[TapIn] = Field(max_length=MAX_TAPS)


class TapOut(BaseModel):
    sequence: int
    verification_id: str
    recorded: bool
    verified: bool
    reason: str | None
    finding: str | None


class UploadOut(BaseModel):
    taps: list[TapOut]


def offline_routes(off: Offline) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["identity", "offline"])

    @router.get("/offline-bundle", response_model=BundleOut)
    async def bundle(
        caller: Venue,
        venue_id: Annotated[str, Query(max_length=100)],
        since: Annotated[int | None, Query(ge=0)] = None,
    ) -> dict[str, Any]:
        return asdict(await offline_bundle(off, caller, venue_id, since))

    @router.post("/offline-verifications", response_model=UploadOut)
    async def upload(body: UploadIn, caller: Venue) -> dict[str, Any]:
        taps = [t.uploaded() for t in body.taps]
        answers = await upload_taps(off, caller, body.venue_id, body.terminal_id, taps)
        return {"taps": [asdict(a) for a in answers]}

    @router.get("/offline-findings")
    async def findings(
        caller: Venue,
        venue_id: Annotated[str | None, Query(max_length=100)] = None,
        finding: Finding | None = None,
        since: Annotated[str | None, Query(pattern=RFC3339_TIME, description="RFC 3339 time")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        try:
            after = parse_rfc3339(since) if since else None
        except ValueError:  # the right shape, not a real moment (a 13th month)
            raise invalid("since", "must be an RFC 3339 time") from None
        return {"findings": await offline_findings(off, caller, venue_id, finding, after, limit)}

    return router

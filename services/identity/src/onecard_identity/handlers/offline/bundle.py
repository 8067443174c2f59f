"""Serving the offline bundle: keys, hotlist by card subject and validity, signed by the platform."""

from __future__ import annotations

from dataclasses import dataclass

from onecard_contracts.offline_bundle import (
    Bundle,
    CodeKey,
    HotlistStatus,
    sign_bundle,
)
from onecard_contracts.regions import province_code
from onecard_service.auth import Principal
from onecard_service.problems import Problem
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from ...adapters.offline.context import Offline
from ...adapters.offline.hotlist import current_version, entries_upto
from ...adapters.tables import partner_keys, signing_keys
from ...domain.offline.recheck import StatusChange, is_hotlisted


@dataclass(frozen=True)
class SignedBundle:
    bundle: str  # the compact JWS (docs/offline-validators.md)
    kid: str
    version: int
    since: int | None
    expires_at: int


async def offline_bundle(off: Offline, caller: Principal, venue_id: str, since: int | None) -> SignedBundle:
    """The bundle for a validator at `venue_id`: a delta after `since` when the validator has
    that version (a validator ahead of the platform, e.g. after a restore, gets a full one)."""
    if not caller.may_use_venue(venue_id):
        raise Problem(403, "this client may not fetch the bundle of that venue")
    ctx = off.identity
    async with ctx.db.reads.connect() as conn:
        version = await current_version(conn)  # first: every change up to it is committed
        delta = since if since is not None and since <= version else None

        def listed(change: StatusChange) -> bool:
            """A full bundle lists the hotlisted cards; a delta every card changed after `since`."""
            return is_hotlisted(change.status) if delta is None else change.seq > delta

        entries = await entries_upto(conn, ctx.personal_data, version, listed)
        keys = await _code_keys(conn, ctx.partners)
    hotlist: dict[str, HotlistStatus] = {}
    for entry in entries:
        status = entry.change.status
        hotlist[entry.subject] = (
            "lost" if status == "lost" else "cancelled" if is_hotlisted(status) else "active"
        )
    now, regions = int(ctx.now().timestamp()), (ctx.province, *ctx.partners)
    bundle = Bundle.issued(ctx.province, venue_id, version, delta, now, regions, keys, hotlist)
    signing = await off.keys.current()
    return SignedBundle(
        sign_bundle(bundle, signing.kid, signing.key), signing.kid, version, delta, bundle.exp
    )


async def _code_keys(conn: AsyncConnection, partners: tuple[str, ...]) -> tuple[CodeKey, ...]:
    """Every public key of e-card codes: ours (rotated ones keep verifying) and the partners'."""
    ours = select(signing_keys.c.region, signing_keys.c.kid, signing_keys.c.public_key)
    theirs = select(partner_keys.c.region, partner_keys.c.kid, partner_keys.c.public_key).where(
        partner_keys.c.region.in_(list(partners))
    )
    rows = [*(await conn.execute(ours)), *(await conn.execute(theirs))]
    return tuple(CodeKey(province_code(r.region), r.kid, r.public_key) for r in rows)

"""Wires the identity service: its store, routes and workers."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from onecard_events.waiting import wait_or_stop
from onecard_service.platform import Platform, ServiceRuntime

from .adapters.group_commit import GroupCommitter
from .adapters.keys import KeyRing
from .adapters.queries import purge_nonces
from .adapters.venues import VenueTerminals
from .context import Identity, VerificationMetrics
from .domain.events import registry
from .entrypoints.api import routes
from .handlers.partners import PartnerHotlistProjection

MIGRATIONS = Path(__file__).parent / "migrations"
# Nonces are kept well past their code's expiry: an expired code is refused as expired anyway.
NONCE_RETENTION = timedelta(minutes=10)


def build(platform: Platform) -> ServiceRuntime:
    runtime = ServiceRuntime("identity", platform, registry, MIGRATIONS)
    settings = platform.settings
    ctx = Identity(
        db=runtime.db,
        store=runtime.store,
        personal_data=platform.personal_data,
        keys=KeyRing(runtime.db, platform.personal_data, settings.region),
        committer=GroupCommitter(runtime.db, runtime.store),
        venues=VenueTerminals(runtime.db),
        metrics=VerificationMetrics(runtime.metrics),
        region=settings.region,
        partners=settings.partners,
    )
    runtime.app.state.identity = ctx
    runtime.app.include_router(routes(ctx))
    ctx.venues.follow(runtime.keep_catalog_view())
    # Partner hotlists arriving on the partners' inbound streams, as reporting accepted them.
    runtime.add_projection(PartnerHotlistProjection(ctx), ["reporting"])
    runtime.add_worker("group-commit", ctx.committer.run)
    runtime.add_worker("nonce-purge", lambda stop: _purge_nonces(ctx, stop))
    return runtime


async def _purge_nonces(ctx: Identity, stop: asyncio.Event) -> None:
    while not stop.is_set():
        async with ctx.db.engine.begin() as conn:
            await purge_nonces(conn, ctx.now() - NONCE_RETENTION)
        await wait_or_stop(stop, 60.0)

"""Wires the identity service: its store, routes and workers."""

from __future__ import annotations

from pathlib import Path

from onecard_service.platform import Platform, ServiceRuntime

from .adapters.context import Identity
from .adapters.group_commit import GroupCommitter
from .adapters.keys import KeyRing
from .adapters.metrics import VerificationMetrics
from .adapters.offline.context import Offline
from .adapters.offline.keys import BundleKeys
from .adapters.offline.metrics import OfflineMetrics
from .adapters.venues import VenueTerminals
from .domain.events import registry
from .entrypoints import fast
from .entrypoints.api import routes
from .entrypoints.consumers import PartnerHotlistProjection, PaymentCodeUses
from .entrypoints.offline import offline_routes
from .handlers.nonces import keep_purging_nonces

MIGRATIONS = Path(__file__).parent / "migrations"


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
        views=runtime.freshness,
        code_uses=platform.code_uses,
    )
    # Payments checks cards and e-card codes against identity's events: a write is answered once
    # it is on Kafka (distributed mode; verifications excepted, see handlers/verification.py).
    runtime.answer_when_published = True
    runtime.app.state.identity = ctx
    runtime.app.include_router(routes(ctx))
    # The verifications' usual requests skip FastAPI's per-request work (entrypoints/fast.py).
    fast.install(runtime.app, ctx)
    # Offline validators: the signed bundle and the upload of taps (docs/offline-validators.md).
    bundle_keys = BundleKeys(runtime.db, platform.personal_data, settings.region)
    runtime.app.include_router(offline_routes(Offline(ctx, bundle_keys, OfflineMetrics(runtime.metrics))))
    ctx.venues.follow(runtime.keep_catalog_view())
    # Partner hotlists arriving on the partners' inbound streams, as reporting accepted them.
    runtime.add_projection(PartnerHotlistProjection(ctx), ["reporting"])
    # The e-card codes payments used (`payment_initiated.code_use`) go into identity's nonce
    # table: one use platform-wide (docs/adr/0012).
    runtime.add_projection(PaymentCodeUses(), ["payments"])
    # Each process that takes verifications commits its own batches (`onecard serve --workers N`).
    runtime.add_worker("group-commit", ctx.committer.run, every_process=True)
    runtime.add_worker("nonce-purge", lambda stop: keep_purging_nonces(ctx, stop))
    return runtime

"""Wires the catalog service: its store, routes, and the publication of the official catalogues."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from onecard_events.waiting import wait_or_stop
from onecard_service.platform import Platform, ServiceRuntime

from .adapters.catalogue_data import loader
from .domain.events import registry
from .entrypoints import zone
from .entrypoints.api import ItemListCache, router
from .handlers.context import Catalog
from .handlers.seeding import seed_catalogues

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)
# Another replica's item change reaches this replica's cached item lists within this many seconds.
REPLICA_CACHE_TTL = 2.0


class CatalogRuntime(ServiceRuntime):
    """Publishes the official catalogues after migrating and before serving, so the first request
    already sees them; when the schema is not there yet (migrations run as a separate step), a
    worker keeps trying instead."""

    def __init__(self, platform: Platform) -> None:
        super().__init__("catalog", platform, registry, MIGRATIONS)
        self.catalog = Catalog(self.db, self.store, platform.token_signer)

    async def seed(self) -> int:
        return await seed_catalogues(self.catalog, loader.load_jurisdictions, loader.load_all_items)

    async def start(self, *, migrate: bool) -> None:
        if migrate:
            await self.migrate()
        try:
            if self.runs_background_jobs:  # the background process seeds before the workers start
                await self.seed()
        except Exception:
            log.exception("catalog: publishing the official catalogues failed; retrying in the background")
            self.add_worker("seed", self._seed_until_done)
        await super().start(migrate=False)

    async def _seed_until_done(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.seed()
                return
            except Exception:
                log.warning("catalog: catalogues not published yet; retrying", exc_info=True)
                await wait_or_stop(stop, 2.0)


def build(platform: Platform) -> ServiceRuntime:
    runtime = CatalogRuntime(platform)
    # Every other service checks requests against the catalogue: in the distributed mode a
    # catalogue write is answered once it is on Kafka, so "the topic's end" includes it.
    runtime.answer_when_published = True
    # One process (embedded) sees every change, so its cache is never stale; replicas expire theirs.
    cache = ItemListCache(None if platform.embedded else REPLICA_CACHE_TTL)
    runtime.app.include_router(router(runtime.catalog, cache))
    runtime.app.include_router(zone.router(runtime.catalog, cache))
    return runtime

"""What a service needs from its surroundings, in either mode, and the runtime that hosts it.

`Platform` hands out databases, event stores and event sources: SQLite files and the stores' logs in
the embedded mode; PostgreSQL schemas and Kafka topics in the distributed mode. A service's
`bootstrap.build(platform)` returns a `ServiceRuntime`: its FastAPI app plus its background workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from onecard_contracts.catalog_view import CatalogViewProjection
from onecard_contracts.catalogue_events import registry as catalogue_events
from onecard_contracts.code_uses import CodeUses
from onecard_events.checkpoint import Checkpoint, load_checkpoints
from onecard_events.database import Database, open_database, sqlite_url
from onecard_events.kafka import KafkaPublisher, service_topic
from onecard_events.migrations import upgrade
from onecard_events.model import Position
from onecard_events.registry import EventRegistry
from onecard_events.relay import READER as RELAY_READER
from onecard_events.relay import SOURCE as RELAY_SOURCE
from onecard_events.relay import Relay, RelayMetrics
from onecard_events.store import EventStore, StoreMetrics
from onecard_events.subscription import EventSource, KafkaSource, Projection, ProjectionRunner, StoreLogSource
from onecard_events.supervision import Supervisor, register_health
from onecard_events.topology import SERVICES
from onecard_events.waiting import wait_or_stop
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text

from .auth import ClientRevoked, RevocationList, TokenSigner, TokenVerifier, load_private_key, load_public_key
from .edge import Edge, EdgeGuard, RateLimiter, parse_rates
from .freshness import ConsistencyMiddleware, ViewFreshness
from .observability import HttpMetrics, configure_logging, exporting_tracer_provider
from .openapi import install_openapi
from .privacy import PersonalDataKeys
from .problems import install_problem_handlers
from .settings import Secrets, Settings, resolve_secrets

log = logging.getLogger(__name__)
Worker = Callable[[asyncio.Event], Awaitable[None]]
# What a process of a service runs (`onecard serve --workers N`, docs/adr/0015-workers.md):
# everything (one process), the HTTP side only (N workers on one port), or the background jobs only
# (the relay, projections and leader jobs, in the one process that serves no requests).
EVERYTHING, REQUESTS, BACKGROUND = "everything", "requests", "background"


class Platform:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        configure_logging(settings.log_level)
        self.secrets: Secrets = resolve_secrets(settings)
        self.personal_data = PersonalDataKeys(self.secrets.pii_key)
        self.revocations = RevocationList()
        self.rate_limiter = RateLimiter(parse_rates(settings.rate_limits))
        self.token_verifier = TokenVerifier(
            load_public_key(self.secrets.token_public_key_pem), self.revocations, settings.admin_token
        )
        self._databases: dict[str, Database] = {}
        self._stores: dict[str, EventStore] = {}
        self._revocation_feed_started = False
        # The e-card codes' in-process claim shared by identity and payments (one process only;
        # set by the composition, docs/adr/0012); None: each service's nonce table and the
        # projection of the other's uses.
        self.code_uses: CodeUses | None = None

    @property
    def embedded(self) -> bool:
        return not self.settings.distributed

    def token_signer(self) -> TokenSigner:
        if self.secrets.token_private_key_pem is None:
            raise RuntimeError("issuing credentials needs ONECARD_TOKEN_PRIVATE_KEY")
        return TokenSigner(load_private_key(self.secrets.token_private_key_pem))

    def database(self, service: str) -> Database:
        if service not in self._databases:
            url = self.settings.database_url or sqlite_url(self.settings.data_dir, service)
            self._databases[service] = open_database(url, schema=service)
        return self._databases[service]

    def store(self, service: str, registry: EventRegistry | None = None) -> EventStore:
        """The service's event store; a peer's store (embedded mode) is opened for reading."""
        store = self._stores.get(service)
        if store is None:
            store = EventStore(self.database(service), EventRegistry(), source=service)
            self._stores[service] = store
        if registry is not None:
            store.registry.include(registry)
        return store

    def events_of(self, services: Sequence[str], client_id: str) -> EventSource:
        """A source of the given services' events: their logs (embedded) or topics (distributed)."""
        if self.settings.kafka_bootstrap and not self.embedded:
            topic_of = {s: service_topic(s, self.settings.topic_prefix) for s in services}
            return KafkaSource(
                self.settings.kafka_bootstrap, list(topic_of.values()), client_id, topic_of=topic_of
            )
        return StoreLogSource([self.store(s) for s in services])

    async def follow_revocations(self, stop: asyncio.Event) -> None:
        """Keep the revocation list current from the catalog's client events (within ~1 s)."""
        source = self.events_of(["catalog"], "onecard-revocations")
        await source.start({})
        try:
            while not stop.is_set():
                try:
                    for d in await source.fetch(5000, 0.5):
                        if d.event is not None and d.event.event_type == ClientRevoked.event_type:
                            self.revocations.apply(d.event.event_type, d.event.data)
                except Exception:
                    log.exception("revocation feed failed; retrying")
                    await wait_or_stop(stop, 1.0)
        finally:
            await source.stop()

    async def close(self) -> None:
        for db in self._databases.values():
            await db.dispose()


class _ProjectionLag(Collector):
    """Projection and Kafka consumer lag of a service's runners, read at scrape time."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    def collect(self) -> Iterable[Metric]:
        seconds = GaugeMetricFamily(
            "onecard_projection_lag_seconds",
            "Age of the newest state a projection surely reflects",
            labels=["projection"],
        )
        messages = GaugeMetricFamily(
            "onecard_consumer_lag_messages",
            "Messages a projection has not fetched yet, per topic partition",
            labels=["topic", "partition", "consumer"],
        )
        for runner in self.runtime.projections:
            name = runner.projection.name
            seconds.add_metric([name], runner.lag_seconds())
            if isinstance(runner.source, KafkaSource):
                for (topic, partition), behind in runner.source.lag().items():
                    messages.add_metric([topic, str(partition), name], behind)
        return [seconds, messages]


class ServiceRuntime:
    """One service: its database, store, HTTP app and background workers."""

    def __init__(self, name: str, platform: Platform, registry: EventRegistry, migrations: Path) -> None:
        if name not in SERVICES:
            raise ValueError(f"unknown service {name}")
        self.name = name
        self.platform = platform
        self.migrations = migrations
        self.db = platform.database(name)
        self.store = platform.store(name, registry)
        self.metrics = CollectorRegistry()
        self.store.metrics = StoreMetrics(self.metrics, name)
        self.metrics.register(_ProjectionLag(self))
        self.workers: list[tuple[str, Worker, bool]] = []
        self.role = EVERYTHING
        self.startup_steps: list[tuple[str, Callable[[], Awaitable[Any]], float]] = []
        self.projections: list[ProjectionRunner] = []
        self.ready = False
        # Every background worker runs under the supervisor: restarted with backoff after any
        # error, its health scraped by the collector registered here, once per runtime.
        self.supervisor = Supervisor(name, stuck_after=platform.settings.worker_stuck_seconds)
        register_health(self.metrics, self.supervisor, name)
        self._relay_metrics: RelayMetrics | None = None
        self._relay_behind = False  # the relay has committed events it has not published yet
        self._views_current = False
        self.freshness = ViewFreshness(name, self.projections, platform.settings.consistency_wait_seconds)
        # Distributed: whether a write's answer waits until its events are on Kafka (the services
        # whose events other services check requests against: see docs/consistency.md).
        self.answer_when_published = False
        self._relay_now: Relay | None = None
        self.app = self._create_app()

    def add_worker(self, name: str, worker: Worker, *, every_process: bool = False) -> None:
        """A background worker; `every_process`: one in each process that serves requests (what
        the requests themselves feed, e.g. a group commit), else once, off the request loops."""
        self.workers.append((name, worker, every_process))

    @property
    def runs_background_jobs(self) -> bool:
        return self.role != REQUESTS

    def add_startup_step(self, name: str, step: Callable[[], Awaitable[Any]], timeout: float) -> None:
        """Run `step` once at start, before the service reports ready, for at most `timeout`
        seconds. A step that fails or times out is logged and left to the workers: a start never
        hangs on it."""
        self.startup_steps.append((name, step, timeout))

    def add_projection(
        self, projection: Projection, sources: Sequence[str], batch_size: int = 1000
    ) -> ProjectionRunner:
        """Feed `projection` (tables in this service's database) from services' events; the
        catalogue's events reach it lifted to their current versions (stored and published
        payloads keep the version they were written with)."""
        source = self.platform.events_of(sources, client_id=f"onecard-{projection.name}")
        runner = ProjectionRunner(projection, source, self.db, catalogue_events, batch_size=batch_size)
        self.projections.append(runner)
        self.add_worker(projection.name, runner.run)
        # A projection polls all the time, so it always has work: it is stuck when it has not
        # caught up with its sources for the configured time (failing or hanging).
        self.supervisor.watch(projection.name, progress=lambda: runner.caught_up_at, has_work=lambda: True)
        return runner

    def keep_catalog_view(self) -> ProjectionRunner:
        """Keep this service's catalog_* tables (see catalog_view.py) current."""
        return self.add_projection(CatalogViewProjection(self.name), ["catalog"])

    def _create_app(self) -> FastAPI:
        prefix = f"/{self.name}"
        app = FastAPI(
            title=f"onecard {self.name}",
            version="1",
            openapi_url=f"{prefix}/openapi.json",
            docs_url=f"{prefix}/docs",
            redoc_url=None,
        )
        app.state.token_verifier = self.platform.token_verifier
        app.state.runtime = self
        install_problem_handlers(app)
        install_openapi(app, self.platform.settings)
        # Outermost last: requests are measured and logged (refused ones too), then pass the
        # edge's limits (edge.py) before anything waits for freshness or reads a body.
        app.add_middleware(
            ConsistencyMiddleware,
            service=self.name,
            freshness=self.freshness,
            last_committed=lambda: self.store.last_committed,
            published=self._published_if_asked,
        )
        settings = self.platform.settings
        edge = Edge(
            settings, self.platform.rate_limiter, self.platform.token_verifier, self.metrics, self.name
        )
        app.add_middleware(EdgeGuard, edge=edge)
        HttpMetrics(self.metrics, self.name).install(app)

        @app.get(f"{prefix}/healthz", include_in_schema=False)
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}

        @app.get(f"{prefix}/readyz", include_in_schema=False)
        async def readyz(request: Request) -> Response:
            status, body = await self.readiness()
            return JSONResponse(body, status_code=status)

        @app.get(f"{prefix}/metrics", include_in_schema=False)
        async def metrics() -> Response:
            return Response(generate_latest(self.metrics), media_type=CONTENT_TYPE_LATEST)

        provider = exporting_tracer_provider(self.platform.settings.otlp_endpoint)
        if provider is not None:
            from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

            FastAPIInstrumentor.instrument_app(
                app, tracer_provider=provider, excluded_urls="healthz,readyz,metrics"
            )
        return app

    async def readiness(self) -> tuple[int, dict[str, Any]]:
        """What /readyz answers: 200 once started, views current, no worker stuck, database up."""
        if not self.ready:
            return 503, {"status": "starting"}
        if behind := self.views_behind():
            return 503, {"status": "catching up", "views": behind}
        if stuck := self.supervisor.stuck(gating_readiness=True):
            return 503, {"status": "workers stuck", "workers": stuck}
        try:
            async with self.db.reads.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            return 503, {"status": "database unavailable", "detail": type(exc).__name__}
        return 200, {"status": "ready"}

    def views_behind(self) -> list[str]:
        """The views that have not yet applied what their sources held when the service started
        (none once all have: readiness does not flap with lag later, the stuck check covers it)."""
        if self._views_current:
            return []
        behind = [r.projection.name for r in self.projections if not (r.current or r.standby)]
        self._views_current = not behind
        return behind

    async def migrate(self) -> None:
        await upgrade(self.db, self.migrations)

    async def start(self, *, migrate: bool) -> None:
        if migrate:
            await self.migrate()
        distributed = self.platform.settings.kafka_bootstrap and not self.platform.embedded
        if self.runs_background_jobs and distributed:
            self._relay_metrics = self._relay_metrics or RelayMetrics(self.metrics, self.name)
            # A relay that cannot reach Kafka is an alert (OnecardRelayStalled, OnecardWorkerStuck),
            # not unreadiness: the API works without it, and taking it out of traffic does not
            # help the broker (ADR 0011).
            self.supervisor.watch("relay", has_work=lambda: self._relay_behind, gates_readiness=False)
            self.add_worker("relay", self._relay)
        if not self.platform._revocation_feed_started and self.role != BACKGROUND:
            self.platform._revocation_feed_started = True
            self.add_worker("revocations", self.platform.follow_revocations, every_process=True)
        for name, step, timeout in self.startup_steps if self.runs_background_jobs else ():
            try:
                await asyncio.wait_for(step(), timeout)
            except Exception as exc:  # TimeoutError included
                log.warning(
                    "%s: start step %s did not finish (%s); the workers carry on", self.name, name, exc
                )
        for name, worker, every_process in self.workers:
            if self.role == EVERYTHING or every_process == (self.role == REQUESTS):
                self.supervisor.start(name, worker)
            else:  # the background process runs it: nothing here to watch
                self.supervisor.health.pop(name, None)
        if self.role == REQUESTS:
            # The background process applies the views: this one reads their checkpoints from
            # the database, as a standby replica does.
            for runner in self.projections:
                runner.standby = True
        self.ready = True

    async def _relay(self, stop: asyncio.Event) -> None:
        """One run of the relay on a fresh producer: after any error (a broker restart poisons an
        idempotent producer's sequence numbers) the supervisor starts a new run, and a new one."""
        bootstrap = self.platform.settings.kafka_bootstrap
        assert bootstrap is not None
        health = self.supervisor.watch("relay")
        publisher = KafkaPublisher(bootstrap, client_id=f"onecard-{self.name}-relay")
        self._relay_behind = True
        topic = service_topic(self.name, self.platform.settings.topic_prefix)
        relay = Relay(self.store, publisher, lambda _r: topic, metrics=self._relay_metrics)
        try:
            await publisher.start()
        except Exception:
            # Kafka unreachable from the start: the backlog gauge still says what waits, so
            # OnecardRelayStalled can fire (it needs a backlog above 0).
            with contextlib.suppress(Exception):
                await relay.measure_backlog()
            raise
        try:

            def caught_up(behind: bool) -> None:
                self._relay_behind = behind
                health.progressed()

            relay.on_progress = caught_up
            self._relay_now = relay
            await relay.run(stop)
        finally:
            await publisher.stop()

    async def _published_if_asked(self, position: Position) -> None:
        """Return once the relay (this replica's or another's) has published `position`, for at
        most the consistency bound: the write is committed either way, and a token still works.
        (The relay reads below the database's oldest open transaction, ADR 0002: a long
        transaction anywhere on the server holds it back, and this answer with it.)"""
        if (
            not self.answer_when_published
            or self.platform.embedded
            or not self.platform.settings.kafka_bootstrap
        ):
            return
        deadline = time.monotonic() + self.platform.settings.consistency_wait_seconds
        while time.monotonic() < deadline:
            relay = self._relay_now
            if relay is not None and relay.leading:
                if await relay.wait_published(position, deadline):
                    return
                continue
            async with self.db.reads.connect() as conn:
                published = (await load_checkpoints(conn, RELAY_READER)).get(RELAY_SOURCE, Checkpoint())
            if published.position >= position:
                return
            await asyncio.sleep(0.02)
        log.warning(
            "%s: a write is answered before its events are on Kafka (the relay is behind); a client "
            "that sends no consistency token may be refused on a view that has not seen it",
            self.name,
        )

    async def stop(self) -> None:
        self.ready = False
        await self.supervisor.stop()

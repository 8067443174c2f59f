"""Real servers for the tests: PostgreSQL and Apache Kafka.

Where a Docker engine is reachable, testcontainers starts them. Otherwise the servers started by
`deploy/local/servers.sh` are used (their addresses come in ONECARD_TEST_DATABASE_URL and
ONECARD_TEST_KAFKA_BOOTSTRAP). With ONECARD_REQUIRE_SERVERS=1 (set by .ci/run) a missing server
fails the run instead of skipping the tests that need it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from onecard.composition import PrefixDispatcher, build_services
from onecard_events.database import Database, open_database
from onecard_events.kafka import create_topics, platform_topics
from onecard_events.model import DomainEvent, Position
from onecard_service.auth import Principal
from onecard_service.platform import Platform
from onecard_service.settings import Settings, generate_token_keypair
from sqlalchemy import text

ADMIN_TOKEN = "test-admin-token-0123456789"
REQUIRE = os.environ.get("ONECARD_REQUIRE_SERVERS") == "1"


def _docker_reachable() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:
        return False


def _unavailable(what: str) -> None:
    message = f"{what} is not available: run deploy/local/servers.sh start or provide a Docker engine"
    if REQUIRE:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    url = os.environ.get("ONECARD_TEST_DATABASE_URL")
    if url:
        yield url
        return
    if _docker_reachable():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:15", driver="asyncpg") as pg:
            yield pg.get_connection_url()
        return
    _unavailable("PostgreSQL")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    bootstrap = os.environ.get("ONECARD_TEST_KAFKA_BOOTSTRAP")
    if bootstrap:
        yield bootstrap
        return
    if _docker_reachable():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("apache/kafka:3.9.1").with_kraft() as kafka:
            yield kafka.get_bootstrap_server()
        return
    _unavailable("Apache Kafka")


def unique(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@asynccontextmanager
async def fresh_schema(pg_url: str) -> AsyncIterator[Database]:
    """A fresh PostgreSQL schema, dropped afterwards."""
    schema = unique("s")
    db = open_database(pg_url, schema=schema)
    async with db.engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield db
    finally:
        async with db.engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await db.dispose()


@pytest.fixture
async def pg_db(pg_url: str) -> AsyncIterator[Database]:
    async with fresh_schema(pg_url) as db:
        yield db


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Database:
    return open_database(f"sqlite+aiosqlite:///{tmp_path / 'store.db'}", schema="store")


def embedded_settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, admin_token=ADMIN_TOKEN)


def distributed_settings(kafka_bootstrap: str, database_url: str) -> Settings:
    private_pem, public_pem = generate_token_keypair()
    # A database per platform instance keeps tests isolated while each service keeps its schema.
    return Settings(
        data_dir=Path("/nonexistent"),
        database_url=database_url,
        kafka_bootstrap=kafka_bootstrap,
        admin_token=ADMIN_TOKEN,
        token_private_key_pem=private_pem,
        token_public_key_pem=public_pem,
        pii_key=os.urandom(32),
        # Every test platform gets its own topics on the shared broker.
        topic_prefix=unique("t") + ".",
    )


async def create_database(pg_url: str) -> str:
    """A new, empty PostgreSQL database on the test server; returns its URL."""
    name = unique("db")
    admin = open_database(pg_url, schema="public")
    async with admin.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    base, _, _ = pg_url.rpartition("/")
    return f"{base}/{name}"


class RunningPlatform:
    """All five services in this process, behind one httpx client, in either mode."""

    def __init__(self, platform: Platform, client: httpx.AsyncClient, dispatcher: PrefixDispatcher) -> None:
        self.platform = platform
        self.client = client
        self.dispatcher = dispatcher
        self.admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def runtime(self, name: str):  # type: ignore[no-untyped-def]
        return next(r for r in self.dispatcher.runtimes if r.name == name)


ALL_SERVICES = ("catalog", "identity", "payments", "disbursement", "reporting")


@pytest.fixture
def services_under_test() -> tuple[str, ...]:
    """The services a test's platform runs; a test package may narrow it in its own conftest."""
    return ALL_SERVICES


async def start_platform(
    settings: Settings, services: tuple[str, ...] = ALL_SERVICES
) -> tuple[RunningPlatform, PrefixDispatcher]:
    platform = Platform(settings)
    runtimes = build_services(platform, services)
    dispatcher = PrefixDispatcher(runtimes, migrate=True)
    for runtime in runtimes:
        await runtime.start(migrate=True)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=dispatcher), base_url="http://onecard.test")
    return RunningPlatform(platform, client, dispatcher), dispatcher


async def stop_platform(running: RunningPlatform) -> None:
    await running.client.aclose()
    for runtime in reversed(running.dispatcher.runtimes):
        await runtime.stop()
    await running.platform.close()


@pytest.fixture
async def embedded(tmp_path: Path, services_under_test: tuple[str, ...]) -> AsyncIterator[RunningPlatform]:
    running, _ = await start_platform(embedded_settings(tmp_path / "data"), services_under_test)
    yield running
    await stop_platform(running)


@pytest.fixture
async def distributed(
    pg_url: str, kafka_bootstrap: str, services_under_test: tuple[str, ...]
) -> AsyncIterator[RunningPlatform]:
    """PostgreSQL (a fresh database) and Kafka (the platform's topics)."""
    settings = distributed_settings(kafka_bootstrap, await create_database(pg_url))
    await create_topics(kafka_bootstrap, platform_topics(settings.partners, 2, settings.topic_prefix))
    running, _ = await start_platform(settings, services_under_test)
    yield running
    await stop_platform(running)


@pytest.fixture(params=["embedded", "distributed"])
async def any_mode(
    request: pytest.FixtureRequest, tmp_path: Path, services_under_test: tuple[str, ...]
) -> AsyncIterator[RunningPlatform]:
    """Runs a test once per mode."""
    if request.param == "embedded":
        settings = embedded_settings(tmp_path / "data")
    else:
        pg = server_fixture(request, "pg_url")
        kafka = server_fixture(request, "kafka_bootstrap")
        settings = distributed_settings(kafka, await create_database(pg))
        await create_topics(kafka, platform_topics(settings.partners, 2, settings.topic_prefix))
    running, _ = await start_platform(settings, services_under_test)
    yield running
    await stop_platform(running)


async def eventually(check, timeout: float = 15.0, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Poll an async `check` until it returns a truthy value (for asynchronous projections)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        await asyncio.sleep(interval)


def catalog_stream_of(event: DomainEvent) -> str:
    """One seed stream per catalogue aggregate (item, venue, terminal, merchant): Kafka keys by
    stream, so an aggregate's events share a partition and arrive in the order they were recorded."""
    d = event.model_dump()
    if "item" in d:
        return f"seed-item-{d['item']['item_id']}"
    if "terminal_id" in d:
        return f"seed-terminal-{d['venue_id']}-{d['terminal_id']}"
    for key in ("merchant_id", "venue_id", "item_id", "client_id", "code"):
        if key in d:
            return f"seed-{key}-{d[key]}"
    return f"seed-{uuid.uuid4().hex}"


async def seed_catalog(running: RunningPlatform, *events: DomainEvent) -> None:
    """Record catalogue events straight into the catalog's store (as the catalog service would),
    then wait until every service's catalogue view has applied them."""
    catalog = running.runtime("catalog")
    async with catalog.db.engine.begin() as conn:
        written = [
            (await catalog.store.append(conn, catalog_stream_of(event), [event], expected_version=None))[-1]
            for event in events
        ]
    if written:
        await catalog_views_caught_up(running, max(r.position for r in written))


async def catalog_views_caught_up(
    running: RunningPlatform, target: Position | None = None, timeout: float = 60.0
) -> None:
    """Wait until every service's catalog_view projection has applied the catalog's log up to
    `target` (default: its head, read afresh on every poll, since a head read below the cluster's
    snapshot xmin may trail a commit made a moment before)."""
    catalog = running.runtime("catalog")

    async def caught_up() -> bool:
        goal = target if target is not None else await catalog.store.head()
        for runtime in running.dispatcher.runtimes:
            for runner in runtime.projections:
                if not runner.projection.name.endswith("_catalog_view"):
                    continue
                if max((cp.position for cp in runner.checkpoints.values()), default=Position()) < goal:
                    return False
        return True

    await eventually(caught_up, timeout)


def token_for(running: RunningPlatform, principal: Principal) -> dict[str, str]:
    """Authorization header for a client with the given scope (signed as the catalog would)."""
    return {"Authorization": f"Bearer {running.platform.token_signer().issue(principal)}"}


# -- proof that the real servers were used ------------------------------------------------------

_server_tests = {"pg_url": 0, "kafka_bootstrap": 0}
_DYNAMIC = pytest.StashKey[set[str]]()


def server_fixture(request: pytest.FixtureRequest, name: str) -> str:
    """`request.getfixturevalue` for a server fixture, remembered so the run's count includes it."""
    value: str = request.getfixturevalue(name)
    request.node.stash.setdefault(_DYNAMIC, set()).add(name)
    return value


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.passed:
        # Includes server fixtures requested dynamically (server_fixture), not only the signature's.
        active = set(getattr(item, "fixturenames", ())) | item.stash.get(_DYNAMIC, set())
        for fixture in _server_tests:
            if fixture in active:
                _server_tests[fixture] += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not REQUIRE or session.config.option.collectonly or exitstatus != 0:
        return
    print(
        f"\nreal servers: {_server_tests['pg_url']} passed tests used PostgreSQL, "
        f"{_server_tests['kafka_bootstrap']} used Apache Kafka"
    )
    selected_all = not session.config.args or session.config.args == ["tests"]
    if selected_all and (not _server_tests["pg_url"] or not _server_tests["kafka_bootstrap"]):
        print("FAILED: the PostgreSQL or Kafka tests did not run")
        session.exitstatus = 1

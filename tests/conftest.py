"""Fixtures: real servers (PostgreSQL and Apache Kafka) and platforms under test.

Where a Docker engine is reachable, testcontainers starts the servers. Otherwise the servers started
by `deploy/local/servers.sh` are used (their addresses come in ONECARD_TEST_DATABASE_URL and
ONECARD_TEST_KAFKA_BOOTSTRAP). With ONECARD_REQUIRE_SERVERS=1 (set by .ci/run) a missing server
fails the run instead of skipping the tests that need it.

The helpers behind these fixtures, and everything else tests share, are in `tests.support`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# The platform is imported where a fixture starts one, so the unit tier does not pay for it.
from tests.support.servers import DYNAMIC, REQUIRE, docker_reachable, missing, server_fixture

if TYPE_CHECKING:
    from onecard_events.database import Database

    from tests.support.platform import RunningPlatform


def _platforms():  # type: ignore[no-untyped-def]
    """tests.support.platform, imported on first use: the unit tier never starts a platform."""
    from tests.support import platform

    return platform


def _server(variable: str, what: str, container: Callable[[], AbstractContextManager[str]]) -> Iterator[str]:
    """The address in `variable`, else a testcontainers server, else skip (or fail)."""
    address = os.environ.get(variable)
    if address:
        yield address
        return
    if docker_reachable():
        with container() as started:
            yield started
        return
    missing(f"{what} is not available: run deploy/local/servers.sh start or provide a Docker engine")


@contextmanager
def _postgres() -> Iterator[str]:
    from testcontainers.postgres import PostgresContainer

    with PostgresContainer("postgres:15", driver="asyncpg") as pg:
        yield pg.get_connection_url()


@contextmanager
def _kafka() -> Iterator[str]:
    from testcontainers.kafka import KafkaContainer

    with KafkaContainer("apache/kafka:3.9.1").with_kraft() as kafka:
        yield kafka.get_bootstrap_server()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    yield from _server("ONECARD_TEST_DATABASE_URL", "PostgreSQL", _postgres)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    yield from _server("ONECARD_TEST_KAFKA_BOOTSTRAP", "Apache Kafka", _kafka)


@pytest.fixture
async def pg_db(pg_url: str) -> AsyncIterator[Database]:
    from tests.support.databases import fresh_schema

    async with fresh_schema(pg_url) as db:
        yield db


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Database:
    from tests.support.databases import sqlite_database

    return sqlite_database(tmp_path / "store.db")


@pytest.fixture
def services_under_test() -> tuple[str, ...]:
    """The services a test's platform runs; a test package may narrow it in its own conftest."""
    from tests.support.platform import ALL_SERVICES

    return ALL_SERVICES


@pytest.fixture
async def embedded(tmp_path: Path, services_under_test: tuple[str, ...]) -> AsyncIterator[RunningPlatform]:
    running, _ = await _platforms().start_platform(
        await _platforms().fresh_embedded_settings(tmp_path / "data"), services_under_test
    )
    yield running
    await _platforms().stop_platform(running)


@pytest.fixture
async def distributed(
    pg_url: str, kafka_bootstrap: str, services_under_test: tuple[str, ...]
) -> AsyncIterator[RunningPlatform]:
    """PostgreSQL (a fresh database) and Kafka (the platform's topics)."""
    running, _ = await _platforms().start_platform(
        await _platforms().fresh_distributed_settings(pg_url, kafka_bootstrap), services_under_test
    )
    yield running
    await _platforms().stop_platform(running)


@pytest.fixture(params=["embedded", "distributed"])
async def any_mode(
    request: pytest.FixtureRequest, tmp_path: Path, services_under_test: tuple[str, ...]
) -> AsyncIterator[RunningPlatform]:
    """Runs a test once per mode."""
    if request.param == "embedded":
        settings = await _platforms().fresh_embedded_settings(tmp_path / "data")
    else:
        pg = server_fixture(request, "pg_url")
        kafka = server_fixture(request, "kafka_bootstrap")
        settings = await _platforms().fresh_distributed_settings(pg, kafka)
    running, _ = await _platforms().start_platform(settings, services_under_test)
    yield running
    await _platforms().stop_platform(running)


# -- proof that the real servers were used ------------------------------------------------------

_server_tests = {"pg_url": 0, "kafka_bootstrap": 0}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        # Includes server fixtures requested dynamically (server_fixture), not only the signature's.
        # Carried on the report, so that under pytest-xdist the controller counts what workers ran.
        active = set(getattr(item, "fixturenames", ())) | item.stash.get(DYNAMIC, set())
        report.user_properties.extend(("real_server", name) for name in _server_tests if name in active)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" and report.passed:
        for key, name in report.user_properties:
            if key == "real_server":
                _server_tests[str(name)] += 1


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not REQUIRE or session.config.option.collectonly or exitstatus != 0:
        return
    if hasattr(session.config, "workerinput"):
        return  # a pytest-xdist worker: the controller checks the whole run
    print(
        f"\nreal servers: {_server_tests['pg_url']} passed tests used PostgreSQL, "
        f"{_server_tests['kafka_bootstrap']} used Apache Kafka"
    )
    selected_all = not session.config.args or session.config.args == ["tests"]
    if selected_all and (not _server_tests["pg_url"] or not _server_tests["kafka_bootstrap"]):
        print("FAILED: the PostgreSQL or Kafka tests did not run")
        session.exitstatus = 1

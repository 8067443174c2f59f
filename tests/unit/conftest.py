"""Unit tests: no PostgreSQL, no Kafka, no processes. A service's domain and handlers, tested in
this process (tests/unit/<service>/test_*.py); SQLite (`sqlite_db`, `embedded`) is fine.

`.venv/bin/pytest tests/unit -q` runs without servers. The server fixtures of tests/conftest.py are
overridden here so that a unit test asking for one fails at once with a pointer, instead of
waiting for (or skipping without) a server: a test that needs PostgreSQL or Kafka belongs in
tests/<service>/.
"""

from __future__ import annotations

from typing import NoReturn

import pytest


def _not_here(fixture: str) -> NoReturn:
    pytest.fail(
        f"{fixture}: unit tests run without servers; move the test to tests/<service>/", pytrace=False
    )


@pytest.fixture(scope="session")
def pg_url() -> str:
    _not_here("pg_url")


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    _not_here("kafka_bootstrap")

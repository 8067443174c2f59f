"""The real servers the tests use (PostgreSQL, Apache Kafka, promtool, Prometheus): whether they
must be there, and what a test does when one is missing."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

# Set by .ci/run: a missing server fails the run instead of skipping the tests that need it.
REQUIRE = os.environ.get("ONECARD_REQUIRE_SERVERS") == "1"

# Server fixtures requested with `server_fixture`, per test item (counted by tests/conftest.py).
DYNAMIC = pytest.StashKey[set[str]]()


def missing(message: str) -> NoReturn:
    """Fail (ONECARD_REQUIRE_SERVERS=1) or skip the test: something it needs is not there."""
    if REQUIRE:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def docker_reachable() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:
        return False


def server_fixture(request: pytest.FixtureRequest, name: str) -> str:
    """`request.getfixturevalue` for a server fixture, remembered so the run's count includes it."""
    value: str = request.getfixturevalue(name)
    request.node.stash.setdefault(DYNAMIC, set()).add(name)
    return value

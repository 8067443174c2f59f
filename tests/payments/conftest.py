"""Payments tests run the catalog and payments services only, so they do not depend on the
state of the other services' code."""

from __future__ import annotations

import pytest


@pytest.fixture
def services_under_test() -> tuple[str, ...]:
    return ("catalog", "payments")

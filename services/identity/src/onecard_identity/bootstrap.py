"""Wires the identity service: its store, routes and workers."""

from __future__ import annotations

from pathlib import Path

from onecard_events.registry import EventRegistry
from onecard_service.platform import Platform, ServiceRuntime

MIGRATIONS = Path(__file__).parent / "migrations"


def build(platform: Platform) -> ServiceRuntime:
    registry = EventRegistry()
    return ServiceRuntime("identity", platform, registry, MIGRATIONS)

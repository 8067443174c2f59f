"""Wires the reporting service: its store, the depth projection, the snapshot, routes and the
partner streams (distributed mode). `onecard rebuild reporting` rebuilds its read models.
"""

from __future__ import annotations

from pathlib import Path

from onecard_events.subscription import ProjectionRunner
from onecard_events.topology import SERVICES
from onecard_service.platform import Platform, ServiceRuntime

from .adapters.depth_history import DepthWithHistory
from .adapters.snapshot import DepthMetrics, ReportingState
from .domain.events import registry
from .entrypoints import console
from .entrypoints.api import router
from .entrypoints.partners import add_partner_workers

MIGRATIONS = Path(__file__).parent / "migrations"


def add_depth_projection(runtime: ServiceRuntime, batch_size: int = 5000) -> ProjectionRunner:
    """The depth projection (with its daily history), fed in large batches (it writes each batch
    set-based)."""
    return runtime.add_projection(DepthWithHistory(), SERVICES, batch_size=batch_size)


def build(platform: Platform) -> ServiceRuntime:
    runtime = ServiceRuntime("reporting", platform, registry, MIGRATIONS)
    runner = add_depth_projection(runtime)
    state = ReportingState(runner, DepthMetrics(runtime.metrics))
    runtime.app.state.reporting = state
    runtime.app.include_router(router(state))
    runtime.app.include_router(console.router(state))
    runtime.add_worker("depth_snapshot", state.run, every_process=True)  # what requests read
    settings = platform.settings
    if settings.kafka_bootstrap and not platform.embedded:
        add_partner_workers(runtime)
    return runtime

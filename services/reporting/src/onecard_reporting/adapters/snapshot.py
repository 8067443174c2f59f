"""The live state of the reporting service: how far the projection got, the latest snapshot of its
facts, and the Prometheus gauges refreshed from it."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from onecard_events.consistency import covered
from onecard_events.subscription import ProjectionRunner
from onecard_events.waiting import wait_or_stop
from prometheus_client import CollectorRegistry, Gauge

from ..domain.depth import Filters, depth_rows
from ..domain.facts import Snapshot
from ..domain.levels import local_year
from .queries import load_snapshot

LABELS = ["jurisdiction", "department", "item_id", "category"]


class DepthMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.level = Gauge("onecard_depth_level", "Achieved depth level", LABELS, registry=registry)
        self.ratio = Gauge(
            "onecard_depth_ratio", "Depth ratio (identity, disbursement)", LABELS, registry=registry
        )
        self.planned = Gauge("onecard_depth_planned_level", "Planned depth level", LABELS, registry=registry)

    def update(self, snap: Snapshot) -> None:
        for gauge in (self.level, self.ratio, self.planned):
            gauge.clear()
        for row in depth_rows(snap, Filters(year=local_year(snap.now))):
            labels = [row["jurisdiction"], row["department"], row["item_id"], row["category"]]
            self.level.labels(*labels).set(row["level"])
            if row["ratio"] is not None and row["category"] in ("identity", "disbursement"):
                self.ratio.labels(*labels).set(row["ratio"])
            if row["planned_level"] is not None:
                self.planned.labels(*labels).set(row["planned_level"])


class ReportingState:
    """Refreshes the snapshot whenever the projection applied something (and every few seconds,
    for the 30-day activity window and for replicas that are not the projection's leader)."""

    def __init__(self, runner: ProjectionRunner, metrics: DepthMetrics) -> None:
        self.runner = runner
        self.metrics = metrics
        self.started = time.time()
        self.snapshot: Snapshot | None = None
        self._applied_at_refresh = -1
        self._current_at_refresh = False  # whether the projection had caught up when it was taken
        self._refreshed = 0.0
        self._lock = asyncio.Lock()

    def as_of(self) -> datetime:
        return datetime.fromtimestamp(self.runner.caught_up_at or self.started, UTC)

    def lag_seconds(self, as_of: datetime) -> float:
        return round(max(0.0, time.time() - as_of.timestamp()), 3)

    async def refresh(self, past: int | None = None) -> Snapshot:
        """A new snapshot; with `past`, only if the one held was taken before the projection had
        applied that many events (concurrent callers share one refresh)."""
        async with self._lock:
            if past is not None and self.snapshot is not None and self._applied_at_refresh >= past:
                return self.snapshot
            applied, as_of, current = self.runner.applied, self.as_of(), self.runner.current
            async with self.runner.db.reads.connect() as conn:
                snap = await load_snapshot(conn, as_of, datetime.now(UTC))
            self.metrics.update(snap)  # computes (and memoises) this year's depth rows
            self.snapshot, self._applied_at_refresh, self._refreshed = snap, applied, time.monotonic()
            self._current_at_refresh = current
            return snap

    async def current(self) -> tuple[Snapshot, datetime]:
        """The snapshot, and the time up to which it reflects every event."""
        applied = self.runner.applied
        snap = self.snapshot
        # Served from the snapshot the worker refreshes every 0.25 s, except when that would give
        # less than a caught-up view: before the first snapshot taken with the projection current
        # (right after start), or for a request whose consistency tokens were just covered.
        if snap is None or (
            self._applied_at_refresh < applied and (covered() or not self._current_at_refresh)
        ):
            snap = await self.refresh(past=applied)
        unchanged = self.runner.applied == self._applied_at_refresh
        return snap, (max(snap.as_of, self.as_of()) if unchanged else snap.as_of)

    def stale(self) -> bool:
        # Where this process applies the projection, a change bumps `applied`: the timed refresh
        # is only for the 30-day window, once a minute (an idle platform stays idle).
        every = 5.0 if self.runner.standby else 60.0
        return self.runner.applied != self._applied_at_refresh or time.monotonic() - self._refreshed > every

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if self.stale():
                await self.refresh()
            await wait_or_stop(stop, 0.25)

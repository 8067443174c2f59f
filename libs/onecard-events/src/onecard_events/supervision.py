"""Background workers under one supervisor: restarted after any error, with jittered exponential
backoff, each with its health on record.

A worker is a coroutine function `worker(stop)` that builds what it needs (a Kafka producer, a
consumer, connections) each time it is called, so a restart after an error starts from fresh
resources: a producer whose sequence state a broker restart poisoned is thrown away with the
failed run. Errors are logged once per change of state (the first failure of a streak with its
traceback, a different error, the recovery), not once per attempt.

Health per worker: when it last made progress, how many times in a row it failed and with what. A
worker is *stuck* when it has work and has made no progress for `stuck_after` seconds (it fails,
or it hangs); the `onecard_worker_stuck` metric reports it, and readiness too unless the worker
was watched with `gates_readiness=False` (the relay: see ADR 0011). A worker without a work probe
has work while it keeps failing: it is stuck once its failure streak has lasted `stuck_after`, and
the streak ends when it reports progress, returns, or a restarted run stays up for `calm_after`
seconds without failing (so a worker that never reports progress is not stuck for ever after one
outage).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .waiting import wait_or_stop

log = logging.getLogger(__name__)
Worker = Callable[[asyncio.Event], Awaitable[None]]


@dataclass(frozen=True)
class Backoff:
    """Delays of 0.5, 1, 2, ... seconds up to `cap`, each drawn in [delay/2, delay] (full jitter
    halves synchronised retries of many replicas after a shared outage)."""

    initial: float = 0.5
    cap: float = 15.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap, self.initial * (2 ** max(0, attempt - 1)))
        return random.uniform(ceiling / 2, ceiling)


@dataclass
class WorkerHealth:
    name: str
    started_at: float = field(default_factory=time.time)
    last_progress: float | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    restarts: int = 0
    failing_since: float | None = None  # when the current failure streak began
    # False: being stuck is an alert (the metric), not a reason to take the service out of traffic.
    gates_readiness: bool = True
    # Optional probes: the worker's own clock of progress, and whether it has anything to do.
    progress_probe: Callable[[], float | None] | None = None
    work_probe: Callable[[], bool] | None = None

    def progressed(self, at: float | None = None) -> None:
        """The worker did useful work: a failure streak, if any, is over."""
        self.last_progress = at or time.time()
        self.settled()

    def failed(self, error: str) -> None:
        if self.consecutive_failures == 0:
            self.failing_since = time.time()
        self.consecutive_failures += 1
        self.last_error = error
        self.restarts += 1

    def settled(self) -> None:
        """The failure streak, if any, is over."""
        self.consecutive_failures = 0
        self.failing_since = None

    def progress_at(self) -> float:
        probed = self.progress_probe() if self.progress_probe is not None else None
        known = [t for t in (probed, self.last_progress) if t is not None]
        return max(known) if known else self.started_at

    def stuck(self, stuck_after: float, now: float | None = None) -> bool:
        now = now or time.time()
        if self.work_probe is not None:
            return self.work_probe() and now - self.progress_at() > stuck_after
        # Without a probe it has work while it fails: stuck when failing for longer than allowed.
        if not self.consecutive_failures:
            return False
        return now - max(self.progress_at(), self.failing_since or 0.0) > stuck_after


class Supervisor:
    def __init__(self, owner: str, *, stuck_after: float = 60.0, backoff: Backoff | None = None) -> None:
        self.owner = owner
        self.stuck_after = stuck_after
        self.backoff = backoff or Backoff()
        # A restarted run that stays up this long without failing ends the failure streak: below
        # `stuck_after`, so one outage never leaves a worker that reports no progress "stuck".
        self.calm_after = min(self.backoff.cap * 2, stuck_after / 2)
        self.health: dict[str, WorkerHealth] = {}
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def watch(
        self,
        name: str,
        *,
        progress: Callable[[], float | None] | None = None,
        has_work: Callable[[], bool] | None = None,
        gates_readiness: bool | None = None,
    ) -> WorkerHealth:
        """The health record of `name`, with optional probes (before or after it starts)."""
        health = self.health.setdefault(name, WorkerHealth(name))
        if progress is not None:
            health.progress_probe = progress
        if has_work is not None:
            health.work_probe = has_work
        if gates_readiness is not None:
            health.gates_readiness = gates_readiness
        return health

    def start(self, name: str, worker: Worker) -> None:
        self._stop.clear()
        health = self.watch(name)
        self._tasks.append(asyncio.create_task(self._run(health, worker), name=f"{self.owner}:{name}"))

    def stuck(self, *, gating_readiness: bool = False) -> list[str]:
        """The stuck workers (with `gating_readiness`, those of them that make the service unready)."""
        now = time.time()
        return sorted(
            h.name
            for h in self.health.values()
            if (h.gates_readiness or not gating_readiness) and h.stuck(self.stuck_after, now)
        )

    def _settle(self, health: WorkerHealth) -> None:
        if health.consecutive_failures:
            log.info("%s worker %s recovered", self.owner, health.name)
        health.settled()

    async def _run(self, health: WorkerHealth, worker: Worker) -> None:
        attempt = 0
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            started = time.monotonic()
            # After a failure, this run ends the streak once it has stayed up for `calm_after`.
            calm = None
            if health.consecutive_failures:
                calm = loop.call_later(self.calm_after, self._settle, health)
            try:
                await worker(self._stop)
                self._settle(health)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                error = type(exc).__name__
                if health.consecutive_failures == 0 or error != health.last_error:
                    log.exception("%s worker %s failed (%s); restarting", self.owner, health.name, error)
                health.failed(error)
                # A run that lasted a while before failing starts the backoff again.
                attempt = 1 if time.monotonic() - started > self.backoff.cap * 2 else attempt + 1
            finally:
                if calm is not None:
                    calm.cancel()
            await wait_or_stop(self._stop, self.backoff.delay(attempt))

    async def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        self._tasks.clear()


class WorkerHealthCollector(Collector):
    """Per-worker health at scrape time; registered once per process and service."""

    def __init__(self, supervisor: Supervisor, service: str) -> None:
        self.supervisor = supervisor
        self.service = service

    def collect(self) -> Iterable[Metric]:
        labels = ["service", "worker"]
        failures = GaugeMetricFamily(
            "onecard_worker_consecutive_failures", "Failures in a row of a background worker", labels=labels
        )
        restarts = GaugeMetricFamily(
            "onecard_worker_restarts",
            "Restarts of a background worker since the process started",
            labels=labels,
        )
        progress = GaugeMetricFamily(
            "onecard_worker_last_progress_timestamp_seconds",
            "When a background worker last made progress (Unix time)",
            labels=labels,
        )
        stuck = GaugeMetricFamily(
            "onecard_worker_stuck", "1 when a worker has work and made no progress in time", labels=labels
        )
        now = time.time()
        for health in self.supervisor.health.values():
            key = [self.service, health.name]
            failures.add_metric(key, health.consecutive_failures)
            restarts.add_metric(key, health.restarts)
            progress.add_metric(key, health.progress_at())
            stuck.add_metric(key, 1.0 if health.stuck(self.supervisor.stuck_after, now) else 0.0)
        return [failures, restarts, progress, stuck]


def register_health(registry: CollectorRegistry, supervisor: Supervisor, service: str) -> None:
    registry.register(WorkerHealthCollector(supervisor, service))

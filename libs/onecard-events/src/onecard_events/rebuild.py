"""Rebuilding a read model: drop it with its checkpoints, then replay until caught up.

`onecard rebuild <service>` does this for every projection of a service (docs/operations.md).
Stop the service's replicas first, or let them wait: the replay holds the projection's leadership
lock on PostgreSQL while it runs, so a live replica pauses instead of racing it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from .leadership import leadership
from .subscription import KafkaSource, ProjectionRunner, StoreLogSource


def _next_offset(runner: ProjectionRunner, key: str) -> int:
    cp = runner.checkpoints.get(key)
    return 0 if cp is None or cp.kafka_offset is None else cp.kafka_offset + 1


async def caught_up(runner: ProjectionRunner) -> bool:
    """Whether the runner has applied everything its sources hold right now."""
    source = runner.source
    if isinstance(source, KafkaSource):
        ends = await source.end_offsets()
        return all(_next_offset(runner, key) >= end for key, end in ends.items())
    if isinstance(source, StoreLogSource):
        for key, store in source.stores.items():
            head = await store.head()
            cp = runner.checkpoints.get(key)
            if head.position and (cp is None or cp.position < head):
                return False
        return True
    return False


async def replay(runner: ProjectionRunner, timeout: float = 3600.0) -> int:
    """Apply events until the runner is caught up; returns how many were applied."""
    deadline = time.monotonic() + timeout
    applied = 0
    await runner.start()
    try:
        while time.monotonic() < deadline:
            count = await runner.run_once(timeout=0.5)
            applied += count
            if count < runner.batch_size and await caught_up(runner):
                return applied
        raise TimeoutError(f"replay of {runner.projection.name} did not catch up")
    finally:
        await runner.stop()


async def rebuild(runners: Sequence[ProjectionRunner]) -> dict[str, int]:
    """Reset and replay each projection (of a service that is not running); events per projection."""
    counts: dict[str, int] = {}
    for runner in runners:
        async with leadership(runner.db, f"projection:{runner.projection.name}"):
            await runner.rebuild()
            counts[runner.projection.name] = await replay(runner)
    return counts

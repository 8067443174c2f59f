"""Rebuild the reporting read models: drop them and their checkpoints, then replay every event.

    python -m onecard_reporting.rebuild      (or call `main()`; uses the ONECARD_* environment)

Stop the running reporting service first (or let it wait: the replay holds the projection's
leadership lock on PostgreSQL while it runs, so a live replica pauses instead of racing it).
"""

from __future__ import annotations

import asyncio
import time

from onecard_events.leadership import leadership
from onecard_events.store import EventStore
from onecard_events.subscription import KafkaSource, ProjectionRunner, StoreLogSource
from onecard_service.platform import Platform, ServiceRuntime
from onecard_service.settings import Settings


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
        stores: dict[str, EventStore] = source.stores
        for key, store in stores.items():
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


async def rebuild(runtime: ServiceRuntime) -> dict[str, int]:
    """Reset and replay every projection of the (not started) reporting runtime."""
    counts: dict[str, int] = {}
    for runner in runtime.projections:
        async with leadership(runtime.db, f"projection:{runner.projection.name}") as _leader:
            await runner.rebuild()
            counts[runner.projection.name] = await replay(runner)
    return counts


async def _main() -> None:
    from .bootstrap import build

    platform = Platform(Settings.from_env())
    runtime = build(platform)
    try:
        await runtime.migrate()
        for name, count in (await rebuild(runtime)).items():
            print(f"rebuilt {name}: {count} events replayed")
    finally:
        await platform.close()


def main() -> None:
    asyncio.run(_main())


if __name__ == "__main__":
    main()

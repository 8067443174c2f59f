"""A relay killed with SIGKILL mid-publish resumes, and the read model applies every event once."""

from __future__ import annotations

import asyncio
import signal
import time

from onecard_events.checkpoint import load_checkpoints
from onecard_events.database import Database
from onecard_events.kafka import TopicSpec, create_topics
from onecard_events.migrations import upgrade
from onecard_events.model import NewEvent
from onecard_events.registry import EventRegistry
from onecard_events.store import EventStore, StreamAppend
from onecard_events.subscription import KafkaSource, ProjectionRunner
from onecard_identity.bootstrap import MIGRATIONS
from sqlalchemy import text

from tests.support.counted import AppliedOnce, Counted
from tests.support.databases import fresh_schema
from tests.support.names import unique
from tests.support.processes import start_relay

STREAMS, PER_STREAM = 100, 200


async def _relay_position(db: Database) -> int:
    async with db.engine.connect() as conn:
        cp = (await load_checkpoints(conn, "relay")).get("kafka")
    return cp.position.position if cp else 0


async def test_relay_killed_mid_publish_resumes_and_projection_applies_each_event_once(
    pg_url: str, kafka_bootstrap: str
) -> None:
    topic = unique("relay") + ".onecard.test.v1"
    await create_topics(kafka_bootstrap, [TopicSpec(topic, partitions=3)])
    async with fresh_schema(pg_url) as source_db, fresh_schema(pg_url) as model_db:
        await upgrade(source_db, MIGRATIONS, "identity_0001")
        await upgrade(model_db, MIGRATIONS, "identity_0001")
        async with model_db.engine.begin() as conn:
            await conn.execute(text(AppliedOnce.TABLE))
        store = EventStore(source_db, EventRegistry(), source="relaytest")
        for round_ in range(PER_STREAM // 20):
            async with source_db.engine.begin() as conn:
                await store.append_batch(
                    conn,
                    [
                        StreamAppend(
                            f"s{s}",
                            [NewEvent(Counted(n=round_ * 20 + i)) for i in range(20)],
                            round_ * 20,
                        )
                        for s in range(STREAMS)
                    ],
                )
        head = (await store.head()).position
        total = STREAMS * PER_STREAM

        # First relay: killed with SIGKILL once it has published part of the log.
        relay = start_relay(pg_url, source_db.schema or "", kafka_bootstrap, topic)
        try:
            for _ in range(600):
                if await _relay_position(source_db) > 0:
                    break
                await asyncio.sleep(0.05)
            relay.send_signal(signal.SIGKILL)
        finally:
            relay.wait(10)
        killed_at = await _relay_position(source_db)
        assert 0 < killed_at < head, "the relay must be killed mid-publish"

        # Second relay: resumes from its checkpoint and finishes.
        relay = start_relay(pg_url, source_db.schema or "", kafka_bootstrap, topic)
        try:
            for _ in range(1200):
                if await _relay_position(source_db) == head:
                    break
                await asyncio.sleep(0.05)
        finally:
            relay.terminate()
            relay.wait(10)
        assert await _relay_position(source_db) == head

        # The projection, restarted once halfway, applies every event exactly once.
        # Read until the goal, not until the topic looks quiet: on a busy machine a fetch can
        # come back empty for seconds. After the whole log, a few empty polls more would show
        # anything delivered twice.
        applied = 0
        deadline = time.monotonic() + 180
        for restart in range(2):
            goal = total // 2 if restart == 0 else total
            runner = ProjectionRunner(AppliedOnce(), KafkaSource(kafka_bootstrap, [topic]), model_db)
            await runner.start()
            try:
                idle = 0
                while time.monotonic() < deadline and (applied < goal or (restart == 1 and idle < 5)):
                    got = await runner.run_once(timeout=0.3)
                    applied += got
                    idle = idle + 1 if got == 0 else 0
            finally:
                await runner.stop()
        async with model_db.engine.connect() as conn:
            count = (await conn.execute(text("SELECT count(*) FROM applied"))).scalar_one()
            rows = (await conn.execute(text("SELECT stream_id, n FROM applied"))).all()
        assert count == total == applied
        by_stream: dict[str, list[int]] = {}
        for stream_id, n in rows:
            by_stream.setdefault(stream_id, []).append(n)
        assert all(sorted(v) == list(range(PER_STREAM)) for v in by_stream.values())

"""The bare Kafka consumer baseline: aiokafka reading every message of some topics from the
beginning to their current end, doing nothing with them. The raw consumption rate of the messages
the reporting projection replays (bench/reporting_projection.py), on the same broker.

    .venv/bin/python bench/baselines/kafka_consumer.py BOOTSTRAP TOPIC [TOPIC ...]
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid

from aiokafka import AIOKafkaConsumer, TopicPartition


async def consume_all(bootstrap: str, topics: list[str]) -> tuple[int, float]:
    """(messages read, seconds taken) from the first fetch to the topics' end offsets."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        client_id=f"bench-bare-{uuid.uuid4().hex[:6]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    try:
        # A fresh look at the cluster (as the project's KafkaSource takes): the consumer's cached
        # metadata only covers topics it was already interested in.
        cluster = await consumer._client.fetch_all_metadata()
        partitions: list[TopicPartition] = []
        for topic in topics:
            partitions += [
                TopicPartition(topic, p) for p in sorted(cluster.partitions_for_topic(topic) or ())
            ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = {tp: end for tp, end in (await consumer.end_offsets(partitions)).items() if end > 0}
        count = 0
        started = time.perf_counter()
        while ends:
            batches = await consumer.getmany(timeout_ms=1000, max_records=50_000)
            for tp, records in batches.items():
                count += len(records)
                if records and records[-1].offset + 1 >= ends.get(tp, 0):
                    ends.pop(tp, None)
        return count, time.perf_counter() - started
    finally:
        await consumer.stop()


if __name__ == "__main__":
    read, seconds = asyncio.run(consume_all(sys.argv[1], sys.argv[2:]))
    print(f"{read} messages in {seconds:.2f} s: {read / seconds:,.0f}/s")

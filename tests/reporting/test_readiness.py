"""Honest readiness (issue 13): reporting answers /readyz 200 only once its views have applied what
its sources held when it started, so the first progress report after "ready" is the full one."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from onecard_events.kafka import service_topic

from tests.support.processes import distributed_env, embedded_env, serve, up
from tests.support.waiting import eventually


async def _published(kafka: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            partitions = [TopicPartition(topic, p) for p in (0, 1)]
        return sum((await consumer.end_offsets(partitions)).values())
    finally:
        await consumer.stop()


async def test_the_first_report_after_ready_lists_the_whole_catalogue(
    pg_url: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    env = await distributed_env(pg_url, kafka_bootstrap, private_key=True)
    catalog = serve("catalog", env, log=tmp_path / "catalog.log")
    reporting = serve("reporting", env, log=tmp_path / "reporting.log")
    await catalog.start()
    try:
        topic = service_topic("catalog", env["ONECARD_TOPIC_PREFIX"])

        async def seeded() -> int | None:
            count = await _published(kafka_bootstrap, topic)
            return count if count >= 200 else None

        await eventually(seeded, timeout=30)  # the catalogue is on its topic before reporting starts
        reporting.launch()
        await reporting.wait_ready(60, interval=0.02)
        async with httpx.AsyncClient(base_url=reporting.url, headers=reporting.admin, timeout=10) as client:
            at_ready = await client.get("/reporting/v1/progress", params={"year": 2026})
            depth = await client.get("/reporting/v1/depth")
        assert at_ready.status_code == 200, at_ready.text
        items = at_ready.json()["summary"]["items"]
        assert items > 100, at_ready.json()["summary"]
        assert depth.json()["lag_seconds"] < 1.0, depth.json()
    finally:
        reporting.stop()
        catalog.stop()


async def test_onecard_up_is_ready_when_all_five_are_and_then_reports_the_whole_catalogue(
    tmp_path: Path,
) -> None:
    """Twice on fresh data directories: the first start on a machine migrates, seeds and projects,
    and leaves the prepared template built behind it; the second starts from a copy of that
    template. Both are ready only when the whole catalogue is in the report."""
    cache = tmp_path / "cache"  # this test's own template cache: the first start finds none
    env = embedded_env(XDG_CACHE_HOME=str(cache))
    first = await _start_and_check_ready(tmp_path, "first", env)
    assert "from the prepared template" not in first

    async def template_built() -> list[Path] | None:
        built = [d for d in (cache / "onecard" / "embedded").glob("*") if not d.name.startswith(".")]
        return built or None

    (template,) = await eventually(template_built, timeout=60, what="the data template built")
    assert sorted(f.name for f in template.iterdir()) == [
        f"{s}.db" for s in sorted(("catalog", "identity", "payments", "disbursement", "reporting"))
    ], "the template holds the databases and nothing else (no keys)"

    second = await _start_and_check_ready(tmp_path, "second", env)
    assert "from the prepared template" in second
    own_keys = [
        json.loads((tmp_path / run / "data" / "secrets.json").read_text()) for run in ("first", "second")
    ]
    assert own_keys[0]["pii_key"] != own_keys[1]["pii_key"], "each data directory has its own keys"


async def _start_and_check_ready(tmp_path: Path, run: str, env: dict[str, str]) -> str:
    """`onecard up` on a fresh data directory: checks the first answers after it is ready; its log."""
    log = tmp_path / f"{run}.log"
    platform = up(tmp_path / run / "data", env)
    platform.log = log
    platform.launch()
    try:
        await platform.wait_ready(60, interval=0.02)
        async with httpx.AsyncClient(base_url=platform.url, headers=platform.admin, timeout=10) as client:
            at_ready = await client.get("/reporting/v1/progress", params={"year": 2026})
            depth = await client.get("/reporting/v1/depth")
            readiness = (await client.get("/readyz")).json()
            items = (await client.get("/catalog/v1/items")).json()
        assert at_ready.status_code == 200, at_ready.text
        # Every service item with a category (support tasks carry no depth) of the catalogue.
        service_items = {i["item_id"] for i in items if i["kind"] == "service" and i["categories"]}
        assert {r["item_id"] for r in at_ready.json()["rows"]} == service_items
        assert depth.json()["lag_seconds"] < 1.0, depth.json()
        assert set(readiness["services"]) == {"catalog", "identity", "payments", "disbursement", "reporting"}
        assert all(s == {"status": "ready"} for s in readiness["services"].values()), readiness

        # The process says so too, once, with its start-to-ready time.
        async def announced() -> list[str]:
            return [line for line in log.read_text().splitlines() if line.startswith("onecard: ready")]

        said = await eventually(announced, timeout=5, interval=0.02, what="onecard up says it is ready")
        assert said[0].startswith("onecard: ready: all 5 services"), said
    finally:
        platform.stop()
    return log.read_text()

"""Reporting projection benchmark: replay N synthetic events from Kafka into the PostgreSQL read
models; GET /reporting/v1/depth while the projection is applying them, and over the still tables.

    eval "$(bash deploy/local/servers.sh env)"
    .venv/bin/python bench/reporting_projection.py --events 1000000

Events are produced first (as the relays would: CloudEvents with store positions) to topics under
a fresh prefix. Each round, the projection replays them into a fresh database with the service's
own batching runner, and the baseline, a bare aiokafka consumer (bench/baselines/kafka_consumer.py),
reads the same messages; interleaved rounds, medians and the ratio of events/s.

Depth under load: in each project round the service's app is served by uvicorn on the same event
loop as the replay and its snapshot worker (as `onecard serve reporting` runs them in one
process), and wrk sends the depth queries (five different filters) for `--depth-seconds` while
the replay is still applying. Its baseline is the same wrk run against the same app once the
replay is over: the same query over tables that no longer change.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
import uuid
from argparse import Namespace
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import uvicorn
from _common import Comparison, Figure, Load, arguments, percentile, wrk
from baselines.kafka_consumer import consume_all
from onecard_events.cloudevents import Headers, dataschema
from onecard_events.kafka import KafkaPublisher, create_topics, platform_topics, service_topic
from onecard_events.model import Position
from onecard_events.rebuild import caught_up
from onecard_events.topology import SERVICES
from onecard_reporting.bootstrap import build
from onecard_service.platform import Platform

from tests.support.databases import create_database
from tests.support.platform import distributed_settings
from tests.support.ports import free_port
from tests.support.waiting import eventually

DISTRICTS = ["500106", "500111", "500155", "500240", "500101", "500103", "500104", "500105"]
ADMIN = "bench-admin-token-0123456789"


class World:
    """Synthetic catalogue and card use with realistic shapes."""

    def __init__(self, items: int, venues: int, merchants: int, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.items = [f"500000:{n}" for n in range(1, items // 2 + 1)] + [
            f"{DISTRICTS[n % len(DISTRICTS)]}:{900 + n}" for n in range(items - items // 2)
        ]
        self.venues = [(f"V{n}", self.rng.choice(self.items)) for n in range(venues)]
        self.merchants = [(f"M{n}", self.rng.choice(self.items)) for n in range(merchants)]
        self.now = datetime.now(UTC)

    def jurisdiction(self, item_id: str) -> str:
        own = item_id.split(":")[0]
        return self.rng.choice(DISTRICTS) if own == "500000" else own

    def catalogue(self) -> list[tuple[str, str, dict[str, Any]]]:
        out: list[tuple[str, str, dict[str, Any]]] = []
        for n, item_id in enumerate(self.items):
            item = {
                "item_id": item_id,
                "jurisdiction": item_id.split(":")[0],
                "seq": n,
                "kind": "service",
                "name": f"事项 {n}",
                "department": f"部门 {n % 12}",
                "card_forms": ["physical", "electronic"],
                "categories": [
                    ["identity"],
                    ["identity", "payment"],
                    ["disbursement"],
                    ["identity", "disbursement", "payment"],
                ][n % 4],
                "plan": {str(self.now.year): 1 + n % 3},
                "plan_note": None,
                "status": "active",
            }
            out.append(("item_published", item_id, {"item": item, "version": 1, "valid_from": "2024-01-01"}))
        for venue_id, item_id in self.venues:
            jur = self.jurisdiction(item_id)
            out.append(
                (
                    "venue_registered",
                    venue_id,
                    {"venue_id": venue_id, "name": venue_id, "jurisdiction": jur, "item_id": item_id},
                )
            )
            if self.rng.random() < 0.75:
                forms = self.rng.choice([["physical"], ["electronic"], ["physical", "electronic"]])
                out.append(
                    (
                        "terminal_deployed",
                        venue_id,
                        {"venue_id": venue_id, "terminal_id": "T1", "card_forms": forms},
                    )
                )
        for merchant_id, item_id in self.merchants:
            out.append(
                (
                    "merchant_registered",
                    merchant_id,
                    {
                        "merchant_id": merchant_id,
                        "name": merchant_id,
                        "jurisdiction": self.jurisdiction(item_id),
                        "item_id": item_id,
                    },
                )
            )
            if self.rng.random() < 0.4:
                out.append(("merchant_joined_agreement", merchant_id, {"merchant_id": merchant_id}))
        return out

    def when(self) -> str:
        return (self.now - timedelta(seconds=self.rng.randint(0, 20 * 86400))).isoformat()

    def verification(self, n: int) -> tuple[str, str, dict[str, Any]]:
        venue_id, item_id = self.rng.choice(self.venues)
        sichuan = self.rng.random() < 0.1
        issuer = "510100" if sichuan else self.rng.choice(DISTRICTS)
        return (
            "verification_recorded",
            venue_id,
            {
                "verification_id": f"v{n}",
                "venue_id": venue_id,
                "terminal_id": "T1",
                "item_id": item_id,
                "jurisdiction": self.jurisdiction(item_id),
                "method": "physical",
                "verified": self.rng.random() < 0.97,
                "reason": None,
                "issuer_region": issuer,
                "cross_region": sichuan,
                "partner_region": "510000" if sichuan else None,
                "holder_key": f"hk{self.rng.randint(0, 500_000)}",
                "occurred_at": self.when(),
            },
        )

    def payment(self, n: int) -> tuple[str, str, dict[str, Any]]:
        merchant_id, item_id = self.rng.choice(self.merchants)
        method = self.rng.choice(["card_account", "ecard", "other"])
        return (
            "payment_settled",
            f"pay{n}",
            {
                "payment_id": f"pay{n}",
                "bill_id": f"b{n}",
                "merchant_id": merchant_id,
                "item_id": item_id,
                "jurisdiction": self.jurisdiction(item_id),
                "method": method,
                "amount_fen": 100,
                "payer_key": "pk",
                "issuer_region": "500106",
                "cross_region": False,
                "agreement_merchant": method == "ecard",
                "settled_at": self.when(),
            },
        )

    def payee(self, n: int) -> tuple[str, str, dict[str, Any]]:
        item_id = self.items[(n % (len(self.items) // 4)) * 4 + 2]  # disbursement items
        return (
            "payee_settled",
            f"batch{n // 1000}",
            {
                "batch_id": f"batch{n // 1000}",
                "program_id": "p",
                "item_id": item_id,
                "jurisdiction": self.jurisdiction(item_id),
                "period": "2026-01",
                "reference_id": f"r{n}",
                "beneficiary_key": f"ben{self.rng.randint(0, 200_000)}",
                "channel": self.rng.choice(["card_account", "card_account", "other_account", "cash"]),
                "amount_fen": 100,
                "outcome": self.rng.choice(["paid"] * 8 + ["failed", "returned"]),
                "reason": None,
                "settled_at": self.when(),
            },
        )


SERVICE_OF = {
    "verification_recorded": "identity",
    "payment_settled": "payments",
    "payee_settled": "disbursement",
}


def message(
    prefix: str, kind: str, key: str, data: dict[str, Any], seq: int
) -> tuple[str, bytes, bytes, Headers]:
    service = SERVICE_OF.get(kind, "catalog")
    event_type = f"onecard.{service}.{kind}"
    headers: Headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", uuid.uuid4().hex.encode()),
        ("ce_source", service.encode()),
        ("ce_type", event_type.encode()),
        ("ce_time", datetime.now(UTC).isoformat().encode()),
        ("ce_subject", key.encode()),
        ("ce_sequence", Position(0, seq).as_sequence().encode()),
        ("ce_dataschema", dataschema(event_type, 1).encode()),
        ("ce_schemaversion", b"1"),
    ]
    return service_topic(service, prefix), key.encode(), orjson.dumps(data), headers


async def produce(bootstrap: str, prefix: str, world: World, events: int) -> int:
    publisher = KafkaPublisher(bootstrap, client_id="bench-producer")
    await publisher.start()
    seqs: dict[str, int] = {}

    def next_seq(kind: str) -> int:
        service = SERVICE_OF.get(kind, "catalog")
        seqs[service] = seqs.get(service, 0) + 1
        return seqs[service]

    sent = 0
    try:
        batch = [message(prefix, k, key, d, next_seq(k)) for k, key, d in world.catalogue()]
        await publisher.publish(batch)
        sent += len(batch)
        makers = [world.verification] * 12 + [world.payment] * 5 + [world.payee] * 3
        while sent < events:
            chunk = []
            for n in range(sent, min(events, sent + 20_000)):
                kind, key, data = makers[n % len(makers)](n)
                chunk.append(message(prefix, kind, key, data, next_seq(kind)))
            await publisher.publish(chunk)
            sent += len(chunk)
    finally:
        await publisher.stop()
    return sent


QUERIES: list[dict[str, str]] = [
    {},
    {"jurisdiction": "500106"},
    {"department": "部门 3"},
    {"item_id": "500000:7"},
    {"jurisdiction": "500000", "category": "overall"},
]
DEPTH_LOAD = Load(
    "GET",
    {"Authorization": f"Bearer {ADMIN}"},
    [("/reporting/v1/depth?" + urlencode(q), b"") for q in QUERIES],
)


class Served:
    """The reporting app under uvicorn on this event loop (beside the replay), with its snapshot
    worker, as one `onecard serve reporting` process runs them."""

    def __init__(self, runtime: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            runtime.app, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning"
        )
        config.access_log = False
        self.server = uvicorn.Server(config)
        self.stop = asyncio.Event()
        self.tasks = [
            asyncio.create_task(self.server.serve()),
            asyncio.create_task(runtime.app.state.reporting.run(self.stop)),
        ]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def started(self) -> None:
        async def listening() -> bool:
            return bool(self.server.started)

        await eventually(listening, timeout=10, interval=0.02, what="uvicorn listening")

    async def close(self) -> None:
        self.stop.set()
        self.server.should_exit = True
        await asyncio.gather(*self.tasks)


async def depth_load(url: str, seconds: float, connections: int) -> Figure:
    return await wrk(url, DEPTH_LOAD, connections=connections, seconds=seconds, unit="depth queries/s")


async def measure_depth(app: Any, requests: int) -> list[float]:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    queries = QUERIES
    timings: list[float] = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        for n in range(requests):
            started = time.perf_counter()
            response = await client.get(
                "/reporting/v1/depth", params=queries[n % len(queries)], headers=headers
            )
            timings.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
    return timings


@dataclass
class Replayed:
    figure: Figure
    platform: Platform
    runtime: Any
    depth: Figure | None = None  # the depth queries while it applied
    depth_after: float = 0.0  # seconds of that load that fell after the replay's end


async def replay(
    pg_url: str, bootstrap: str, prefix: str, batch: int, depth_seconds: float = 0, connections: int = 4
) -> Replayed:
    """One replay of every event into a fresh database (events/s), with the depth queries
    served and loaded during it (`depth_seconds` > 0)."""
    database_url = await create_database(pg_url, "bench")
    settings = distributed_settings(bootstrap, database_url, admin_token=ADMIN, topic_prefix=prefix)
    platform = Platform(settings)
    runtime = build(platform)
    await runtime.migrate()
    runner = runtime.projections[0]
    runner.batch_size = batch
    served = Served(runtime) if depth_seconds > 0 else None
    if served is not None:
        await served.started()
    await runner.start()
    started = time.perf_counter()
    applied = 0
    load: asyncio.Task[Figure] | None = None
    load_started = 0.0
    while True:
        count = await runner.run_once(timeout=0.5)
        applied += count
        if served is not None and load is None and applied:
            # Once the read models hold something: the first batch is the catalogue's.
            load = asyncio.create_task(depth_load(served.url, depth_seconds, connections))
            load_started = time.perf_counter()
        if count < runner.batch_size and await caught_up(runner):
            break
    ended = time.perf_counter()
    await runner.stop()
    out = Replayed(Figure(applied / (ended - started), "events/s"), platform, runtime)
    if served is not None:
        if load is not None:
            out.depth = await load
            out.depth_after = max(0.0, load_started + depth_seconds - ended)
        await served.close()
    return out


async def main(args: Namespace) -> None:
    if args.smoke:
        args.events, args.items, args.venues, args.merchants, args.requests, args.rounds = (
            2000,
            20,
            50,
            20,
            20,
            1,
        )
        args.partitions, args.depth_seconds = 2, 1
    pg_url = args.database_url or os.environ["ONECARD_TEST_DATABASE_URL"]
    bootstrap = args.kafka or os.environ["ONECARD_TEST_KAFKA_BOOTSTRAP"]
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    await create_topics(bootstrap, platform_topics(("510000",), args.partitions, prefix))
    world = World(args.items, args.venues, args.merchants)
    started = time.perf_counter()
    sent = await produce(bootstrap, prefix, world, args.events)
    print(f"produced {sent} events in {time.perf_counter() - started:.1f}s")
    topics = [service_topic(s, prefix) for s in SERVICES]
    last: list[Replayed] = []

    async def keep(done: Replayed) -> None:
        """The latest replay's platform stays open (its read models are what the depth reads)."""
        for earlier in last:
            await earlier.platform.close()
        last[:] = [done]

    async def project() -> Figure:
        done = await replay(pg_url, bootstrap, prefix, args.batch)
        await keep(done)
        return done.figure

    async def bare_consumer() -> Figure:
        read, seconds = await consume_all(bootstrap, topics)
        return Figure(read / seconds, "events/s")

    await Comparison(
        f"reporting projection replay of {sent:,} events (batch {args.batch})",
        project,
        bare_consumer,
        "bare aiokafka consumer",
    ).run(args.rounds)

    if args.depth_seconds > 0:

        async def depth_during_replay() -> Figure:
            seconds, connections = args.depth_seconds, args.depth_connections
            done = await replay(pg_url, bootstrap, prefix, args.batch, seconds, connections)
            await keep(done)
            late = f", {done.depth_after:.1f} s of the load after its end" if done.depth_after else ""
            print(f"  (replay while serving: {done.figure}{late})", flush=True)
            assert done.depth is not None, "the replay ended before its first batch"
            return done.depth

        async def depth_still() -> Figure:
            served = Served(last[0].runtime)
            await served.started()
            try:
                return await depth_load(served.url, args.depth_seconds, args.depth_connections)
            finally:
                await served.close()

        await Comparison(
            f"GET /reporting/v1/depth, {args.depth_connections} connections, while the projection "
            "applies the replay (app, snapshot worker and replay on one event loop)",
            depth_during_replay,
            depth_still,
            "the same app and queries, tables still",
        ).run(args.rounds)

    platform, runtime = last[0].platform, last[0].runtime
    state = runtime.app.state.reporting
    started = time.perf_counter()
    snap = await state.refresh()
    print(
        f"snapshot refresh (aggregation over the read models): {time.perf_counter() - started:.3f}s, "
        f"{len(snap.items)} items, {sum(v.venues for v in snap.venues.values())} venues"
    )
    await measure_depth(runtime.app, 20)  # warm-up (first-call costs of the HTTP stack)
    timings = await measure_depth(runtime.app, args.requests)
    print(
        f"GET /reporting/v1/depth x{len(timings)}: p50 {statistics.median(timings) * 1000:.1f} ms, "
        f"p99 {percentile(timings, 99) * 1000:.1f} ms, max {max(timings) * 1000:.1f} ms"
    )
    await platform.close()


if __name__ == "__main__":
    parser = arguments(__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--venues", type=int, default=5000)
    parser.add_argument("--merchants", type=int, default=2000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument(
        "--depth-seconds", type=float, default=8, help="depth queries during each replay (0: none)"
    )
    parser.add_argument("--depth-connections", type=int, default=4)
    parser.add_argument("--database-url")
    parser.add_argument("--kafka")
    asyncio.run(main(parser.parse_args()))

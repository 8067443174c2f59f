"""Payments per second and latency of POST /payments/v1/bills/{id}/payments (card account).

Starts one `onecard serve payments` (distributed mode) on a fresh PostgreSQL database and fresh
Kafka topics, puts one merchant on the catalog topic, then keeps N connections busy for T
seconds: each loop opens a bill and pays it from a card account with an Idempotency-Key (two
transactions plus a call to the simulated bank, whose ledger is in the same database). Prints
settled payments/s and the payment request's latency percentiles. The load generator shares the
machine with the server and PostgreSQL: the figures are a lower bound.

    eval "$(bash deploy/local/servers.sh env)"
    .venv/bin/python bench/payments_throughput.py --connections 32 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from onecard_events.cloudevents import to_kafka
from onecard_events.database import open_database
from onecard_events.kafka import KafkaPublisher, create_topics, platform_topics, service_topic
from onecard_events.model import Position, RecordedEvent, utcnow
from onecard_service.privacy import ssn_check_character
from onecard_service.settings import generate_token_keypair
from sqlalchemy import text

TOKEN = "bench-admin-token-0123456789"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def fresh_database(pg_url: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = open_database(pg_url, schema="public")
    async with admin.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    return f"{pg_url.rpartition('/')[0]}/{name}"


async def seed_merchant(kafka: str, prefix: str, merchant_id: str) -> None:
    events = [
        (
            "onecard.catalog.merchant_registered",
            {"merchant_id": merchant_id, "name": "bench", "jurisdiction": "500106", "item_id": "500000:80"},
        ),
        ("onecard.catalog.merchant_joined_agreement", {"merchant_id": merchant_id}),
    ]
    publisher = KafkaPublisher(kafka, client_id="bench-seed")
    await publisher.start()
    try:
        messages = []
        for i, (event_type, data) in enumerate(events, start=1):
            record = RecordedEvent(
                str(uuid.uuid4()),
                event_type,
                1,
                f"merchant-{merchant_id}",
                i,
                Position(0, i),
                utcnow(),
                data,
                source="catalog",
            )
            messages.append((service_topic("catalog", prefix), *to_kafka(record, "catalog")))
        await publisher.publish(messages)
    finally:
        await publisher.stop()


def start_server(port: int, database_url: str, kafka: str, prefix: str) -> subprocess.Popen[bytes]:
    _private, public = generate_token_keypair()
    env = {
        **os.environ,
        "ONECARD_DATABASE_URL": database_url,
        "ONECARD_KAFKA_BOOTSTRAP": kafka,
        "ONECARD_TOPIC_PREFIX": prefix,
        "ONECARD_TOKEN_PUBLIC_KEY": public.decode(),
        "ONECARD_PII_KEY": os.urandom(32).hex(),
        "ONECARD_ADMIN_TOKEN": TOKEN,
        "ONECARD_LOG_LEVEL": "WARNING",
    }
    onecard = Path(sys.executable).parent / "onecard"
    command = [str(onecard), "serve", "payments", "--migrate", "--port", str(port)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def wait_for_merchant(base: str, merchant_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=base, headers=HEADERS) as client:
        while time.monotonic() < deadline:
            try:
                body = {"merchant_id": merchant_id, "bill_ref": uuid.uuid4().hex, "amount_fen": 1}
                if (await client.post("/payments/v1/bills", json=body)).status_code == 201:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit("payments did not become ready with the merchant")


def card(n: int) -> dict[str, str]:
    first17 = f"500103{19700101 + n % 28:08d}{n % 1000:03d}"
    return {
        "card_no": f"B{n % 10**8:08d}",
        "ssn": first17 + ssn_check_character(first17),
        "name": "测试",
        "issuer_region": "500103",
    }


async def worker(
    client: httpx.AsyncClient,
    merchant_id: str,
    until: float,
    n: int,
    latencies: list[float],
    outcomes: dict[str, int],
) -> None:
    i = 0
    while time.monotonic() < until:
        i += 1
        bill = await client.post(
            "/payments/v1/bills",
            json={"merchant_id": merchant_id, "bill_ref": uuid.uuid4().hex, "amount_fen": 1000 + i},
        )
        if bill.status_code != 201:
            outcomes[f"bill_{bill.status_code}"] = outcomes.get(f"bill_{bill.status_code}", 0) + 1
            continue
        started = time.perf_counter()
        paid = await client.post(
            f"/payments/v1/bills/{bill.json()['bill_id']}/payments",
            json={"method": "card_account", "card": card(n * 100_000 + i)},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        latencies.append(time.perf_counter() - started)
        status = paid.json().get("status", str(paid.status_code)) if paid.status_code < 500 else "error"
        outcomes[status] = outcomes.get(status, 0) + 1


def percentile(sorted_values: list[float], p: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--pg", default=os.environ.get("ONECARD_TEST_DATABASE_URL"))
    p.add_argument("--kafka", default=os.environ.get("ONECARD_TEST_KAFKA_BOOTSTRAP"))
    args = p.parse_args()
    if not args.pg or not args.kafka:
        raise SystemExit('needs --pg and --kafka (or eval "$(bash deploy/local/servers.sh env)")')
    prefix, merchant_id, port = (
        f"bench_{uuid.uuid4().hex[:8]}.",
        f"m-bench-{uuid.uuid4().hex[:6]}",
        free_port(),
    )
    database_url = await fresh_database(args.pg)
    await create_topics(args.kafka, platform_topics(("510000",), 2, prefix))
    await seed_merchant(args.kafka, prefix, merchant_id)
    server = start_server(port, database_url, args.kafka, prefix)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_for_merchant(base, merchant_id)
        latencies: list[float] = []
        outcomes: dict[str, int] = {}
        limits = httpx.Limits(max_connections=args.connections, max_keepalive_connections=args.connections)
        async with httpx.AsyncClient(base_url=base, headers=HEADERS, limits=limits, timeout=30) as client:
            started = time.monotonic()
            until = started + args.seconds
            await asyncio.gather(
                *(worker(client, merchant_id, until, n, latencies, outcomes) for n in range(args.connections))
            )
            elapsed = time.monotonic() - started
        latencies.sort()
        settled = outcomes.get("settled", 0)
        print(f"payments: {args.connections} connections, {elapsed:.1f} s, outcomes {outcomes}")
        cycles = len(latencies) / elapsed
        print(f"settled payments/s: {settled / elapsed:.1f}  (bill + payment cycles/s: {cycles:.1f})")
        if latencies:
            print(
                "payment POST latency ms: "
                f"p50 {percentile(latencies, 50) * 1000:.1f}  p95 {percentile(latencies, 95) * 1000:.1f}  "
                f"p99 {percentile(latencies, 99) * 1000:.1f}  max {latencies[-1] * 1000:.1f}"
            )
    finally:
        server.terminate()
        server.wait(15)


if __name__ == "__main__":
    asyncio.run(main())

"""Payments per second and latency of POST /payments/v1/bills/{id}/payments (card account).

Starts one `onecard serve payments` (distributed mode) on a fresh PostgreSQL database and fresh
Kafka topics, puts one merchant on the catalog topic, then keeps N connections busy for T
seconds: each loop opens a bill and pays it from a card account with an Idempotency-Key (two
transactions plus a call to the simulated bank, whose ledger is in the same database). The
baseline is bench/baselines/naive_insert.py serving the same two routes (one INSERT and commit
each), driven by the same client (a payment needs the bill the loop just opened, which a wrk
script of fixed requests cannot send), in interleaved rounds. Prints settled payments/s and the
payment request's p50 and p99 of each, the medians and the ratio. The load generator shares the
machine with the server and PostgreSQL: the figures are a lower bound.

    eval "$(bash deploy/local/servers.sh env)"
    .venv/bin/python bench/payments_throughput.py --connections 32 --seconds 10
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import httpx
from _common import Comparison, Figure, arguments, asyncpg_url, baseline_app, percentile
from onecard_catalog.domain.events import MerchantJoinedAgreement, MerchantRegistered

from tests.support import people
from tests.support.catalogue import publish_catalog
from tests.support.processes import distributed_env, serve
from tests.support.waiting import eventually

TOKEN = "bench-admin-token-0123456789"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


async def wait_for_merchant(base: str, merchant_id: str, timeout: float = 60) -> None:
    """Until payments' catalogue view knows the merchant (a bill can be opened)."""
    async with httpx.AsyncClient(base_url=base, headers=HEADERS) as client:

        async def bill_opened() -> bool:
            body = {"merchant_id": merchant_id, "bill_ref": uuid.uuid4().hex, "amount_fen": 1}
            return (await client.post("/payments/v1/bills", json=body)).status_code == 201

        await eventually(bill_opened, timeout, 0.2, what="payments ready with the merchant")


def card(n: int) -> dict[str, str]:
    return people.card(n, "500103", prefix="B", name="测试", born=f"{19700101 + n % 28:08d}")


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


async def drive(base: str, merchant_id: str, connections: int, seconds: float) -> Figure:
    """`connections` loops of bill + payment for `seconds`: settled payments/s, payment latency."""
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, headers=HEADERS, limits=limits, timeout=30) as client:
        started = time.monotonic()
        until = started + seconds
        await asyncio.gather(
            *(worker(client, merchant_id, until, n, latencies, outcomes) for n in range(connections))
        )
        elapsed = time.monotonic() - started
    settled = outcomes.get("settled", 0)
    errors = sum(n for outcome, n in outcomes.items() if outcome != "settled")
    if not latencies:
        return Figure(0.0, "settled payments/s", errors=errors)
    p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
    return Figure(settled / elapsed, "settled payments/s", p50, p99, errors)


async def main() -> None:
    p = arguments(__doc__)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--pg", default=os.environ.get("ONECARD_TEST_DATABASE_URL"))
    p.add_argument("--kafka", default=os.environ.get("ONECARD_TEST_KAFKA_BOOTSTRAP"))
    args = p.parse_args()
    if args.smoke:
        args.connections, args.seconds, args.rounds = 4, 1, 1
    if not args.pg or not args.kafka:
        raise SystemExit('needs --pg and --kafka (or eval "$(bash deploy/local/servers.sh env)")')
    prefix, merchant_id = f"bench_{uuid.uuid4().hex[:8]}.", f"m-bench-{uuid.uuid4().hex[:6]}"
    env = await distributed_env(
        args.pg, args.kafka, database_prefix="bench", admin_token=TOKEN, topic_prefix=prefix
    )
    await publish_catalog(
        args.kafka,
        prefix,
        MerchantRegistered(merchant_id=merchant_id, name="bench", jurisdiction="500106", item_id="500000:80"),
        MerchantJoinedAgreement(merchant_id=merchant_id),
    )
    server = serve("payments", env)
    naive = baseline_app("naive_insert", NAIVE_DATABASE_URL=asyncpg_url(env["ONECARD_DATABASE_URL"]))
    try:
        await server.start()
        await naive.start()
        await wait_for_merchant(server.url, merchant_id)
        print(f"payments: {args.connections} connections, {args.seconds:.0f} s a round, one merchant")
        await Comparison(
            "payments (bill + card-account payment)",
            lambda: drive(server.url, merchant_id, args.connections, args.seconds),
            lambda: drive(naive.url, merchant_id, args.connections, args.seconds),
            "naive one-INSERT app",
        ).run(args.rounds)
    finally:
        server.stop(15)
        naive.stop()


if __name__ == "__main__":
    asyncio.run(main())

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

import asyncio
import os
import time
import uuid

import httpx
from _common import arguments, percentile
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
    merchant_ids: list[str],
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
            json={
                "merchant_id": merchant_ids[(n + i) % len(merchant_ids)],
                "bill_ref": uuid.uuid4().hex,
                "amount_fen": 1000 + i,
            },
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


async def main() -> None:
    p = arguments(__doc__)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--merchants", type=int, default=1, help="bills spread over this many merchants")
    p.add_argument("--pg", default=os.environ.get("ONECARD_TEST_DATABASE_URL"))
    p.add_argument("--kafka", default=os.environ.get("ONECARD_TEST_KAFKA_BOOTSTRAP"))
    args = p.parse_args()
    if not args.pg or not args.kafka:
        raise SystemExit('needs --pg and --kafka (or eval "$(bash deploy/local/servers.sh env)")')
    prefix, tag = f"bench_{uuid.uuid4().hex[:8]}.", uuid.uuid4().hex[:6]
    merchant_ids = [f"m-bench-{tag}-{m}" for m in range(args.merchants)]
    env = await distributed_env(
        args.pg, args.kafka, database_prefix="bench", admin_token=TOKEN, topic_prefix=prefix
    )
    await publish_catalog(
        args.kafka,
        prefix,
        *(
            e
            for m in merchant_ids
            for e in (
                MerchantRegistered(merchant_id=m, name="bench", jurisdiction="500106", item_id="500000:80"),
                MerchantJoinedAgreement(merchant_id=m),
            )
        ),
    )
    server = serve("payments", env)
    base = server.url
    try:
        await server.start()
        await wait_for_merchant(base, merchant_ids[-1])
        latencies: list[float] = []
        outcomes: dict[str, int] = {}
        limits = httpx.Limits(max_connections=args.connections, max_keepalive_connections=args.connections)
        async with httpx.AsyncClient(base_url=base, headers=HEADERS, limits=limits, timeout=30) as client:
            started = time.monotonic()
            until = started + args.seconds
            await asyncio.gather(
                *(
                    worker(client, merchant_ids, until, n, latencies, outcomes)
                    for n in range(args.connections)
                )
            )
            elapsed = time.monotonic() - started
        latencies.sort()
        settled = outcomes.get("settled", 0)
        print(
            f"payments: {args.connections} connections, {args.merchants} merchant(s), "
            f"{elapsed:.1f} s, outcomes {outcomes}"
        )
        cycles = len(latencies) / elapsed
        print(f"settled payments/s: {settled / elapsed:.1f}  (bill + payment cycles/s: {cycles:.1f})")
        if latencies:
            print(
                "payment POST latency ms: "
                f"p50 {percentile(latencies, 50) * 1000:.1f}  p95 {percentile(latencies, 95) * 1000:.1f}  "
                f"p99 {percentile(latencies, 99) * 1000:.1f}  max {latencies[-1] * 1000:.1f}"
            )
    finally:
        server.stop(15)


if __name__ == "__main__":
    asyncio.run(main())

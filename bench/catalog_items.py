"""Throughput and latency of GET /catalog/v1/items?jurisdiction=... on loopback, against a
baseline FastAPI app answering the same bytes from memory, in the same run.

Starts `onecard up` on a free port with a fresh data directory (or uses --url of a running
platform), captures its answer for each jurisdiction, starts bench/baselines/hello.py serving
one of them, then drives both with wrk (the same Lua script, cycling through the districts'
jurisdiction codes) in interleaved rounds; prints requests/s, p50 and p99, medians and the ratio.

    .venv/bin/python bench/catalog_items.py --connections 32 --seconds 10
"""

from __future__ import annotations

import asyncio
import tempfile
from argparse import Namespace
from pathlib import Path

import httpx
from _common import Comparison, Load, arguments, baseline_app, wrk

from tests.support.processes import embedded_env, up

TOKEN = "bench-admin-token-0123456789"
# The city and its districts and counties (the catalogue's jurisdictions).
JURISDICTIONS = ["500000", *(f"5001{n:02d}" for n in range(1, 20)), *(f"5002{n:02d}" for n in range(29, 44))]


async def compare(base: str, args: Namespace) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    paths = [f"/catalog/v1/items?jurisdiction={j}" for j in JURISDICTIONS]
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        answers = [await client.get(p) for p in paths]
    served = [(p, a) for p, a in zip(paths, answers, strict=True) if a.status_code == 200]
    if not served:
        raise SystemExit(f"the catalog answered none of the item lists: {answers[0].status_code}")
    with tempfile.NamedTemporaryFile(suffix=".json") as canned:
        canned.write(served[0][1].content)
        canned.flush()
        hello = baseline_app("hello", HELLO_BODY_FILE=canned.name)
        await hello.start()
        try:
            load = Load("GET", headers, [(p, b"") for p, _ in served])

            def driving(url: str) -> object:
                return lambda: wrk(url, load, connections=args.connections, seconds=args.seconds)

            print(f"GET item lists: {len(served)} jurisdictions, {args.connections} connections")
            await Comparison(
                "catalog item lists",
                driving(base),  # type: ignore[arg-type]
                driving(hello.url),  # type: ignore[arg-type]
                "FastAPI app answering the same bytes",
            ).run(args.rounds)
        finally:
            hello.stop()


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--url", help="a running platform (with ONECARD_ADMIN_TOKEN set to the bench token)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--hey", action="store_true", help="(ignored: the load now always comes from wrk)")
    args = parser.parse_args()
    if args.smoke:
        args.connections, args.seconds, args.rounds = 4, 1, 1
    if args.url:
        asyncio.run(compare(args.url, args))
        return
    with tempfile.TemporaryDirectory() as data_dir:
        # The limiter off: wrk's one credential and address would pass the admin (1,000/s) and
        # address (5,000/s) buckets, and the cheap 429s would be counted instead of the lists.
        server = up(Path(data_dir), embedded_env(TOKEN, ONECARD_RATE_LIMITS="admin=off,address=off"))
        try:
            asyncio.run(server.start())
            asyncio.run(compare(server.url, args))
        finally:
            server.stop(timeout=30)


if __name__ == "__main__":
    main()

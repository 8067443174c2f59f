"""Throughput and latency of GET /catalog/v1/items?jurisdiction=500000 on loopback.

Starts `onecard up` on a free port with a fresh data directory (or uses --url of a running
platform), then keeps N connections busy for T seconds and prints requests/s and latency
percentiles. The load comes from asyncio + httpx in this process, or from `hey` (apt-get install
hey) with --hey, which costs the server less CPU on a small machine.

    .venv/bin/python bench/catalog_items.py --connections 16 --seconds 10 [--hey]
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from _common import arguments, percentile

from tests.support.processes import embedded_env, up

TOKEN = "bench-admin-token-0123456789"
PATH = "/catalog/v1/items?jurisdiction=500000"


async def worker(client: httpx.AsyncClient, until: float, latencies: list[float], errors: list[int]) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    while time.monotonic() < until:
        started = time.perf_counter()
        response = await client.get(PATH, headers=headers)
        latencies.append(time.perf_counter() - started)
        if response.status_code != 200:
            errors.append(response.status_code)


async def load(base: str, connections: int, seconds: float) -> None:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        check = await client.get(PATH, headers={"Authorization": f"Bearer {TOKEN}"})
        assert check.status_code == 200 and len(check.json()) == 47, check.text[:200]
        latencies: list[float] = []
        errors: list[int] = []
        until = time.monotonic() + seconds
        started = time.monotonic()
        await asyncio.gather(*(worker(client, until, latencies, errors) for _ in range(connections)))
        elapsed = time.monotonic() - started
    latencies.sort()

    print(
        f"GET {PATH}: {connections} connections, {elapsed:.1f} s, "
        f"{len(latencies)} requests, {len(errors)} errors"
    )
    p50, p99 = percentile(latencies, 50) * 1000, percentile(latencies, 99) * 1000
    print(f"  {len(latencies) / elapsed:.0f} requests/s; latency p50 {p50:.1f} ms, p99 {p99:.1f} ms")


def load_with_hey(base: str, connections: int, seconds: float) -> None:
    hey = shutil.which("hey")
    if hey is None:
        raise SystemExit("hey is not installed: apt-get install hey, or run without --hey")
    command = [hey, "-z", f"{seconds}s", "-c", str(connections), "-H", f"Authorization: Bearer {TOKEN}"]
    output = subprocess.run([*command, base + PATH], capture_output=True, text=True, check=True).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"50%+ in ([\d.]+) secs", output)
    p99 = re.search(r"99%+ in ([\d.]+) secs", output)
    codes = re.search(r"Status code distribution:\n((?:\s+\[\d+\].*\n)+)", output)
    print(f"GET {PATH} (hey): {connections} connections, {seconds:.0f} s")
    statuses = " ".join((codes.group(1) if codes else "").split())
    if rate and p50 and p99:
        print(
            f"  {float(rate.group(1)):.0f} requests/s; latency p50 {float(p50.group(1)) * 1000:.1f} ms, "
            f"p99 {float(p99.group(1)) * 1000:.1f} ms; status codes: {statuses}"
        )
    else:
        print(output)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--url", help="a running platform (with ONECARD_ADMIN_TOKEN set to the bench token)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--hey", action="store_true", help="generate the load with hey")
    args = parser.parse_args()

    def run(base: str) -> None:
        if args.hey:
            load_with_hey(base, args.connections, args.seconds)
        else:
            asyncio.run(load(base, args.connections, args.seconds))

    if args.url:
        run(args.url)
        return
    with tempfile.TemporaryDirectory() as data_dir:
        server = up(Path(data_dir), embedded_env(TOKEN))
        try:
            asyncio.run(server.start())
            run(server.url)
        finally:
            server.stop(timeout=30)


if __name__ == "__main__":
    main()

"""Benchmark: card verifications per second through `onecard serve identity` (PostgreSQL + Kafka).

    eval "$(bash deploy/local/servers.sh env)"
    .venv/bin/python bench/identity_verifications.py --seconds 20 --connections 64

Starts the catalog and identity services as subprocesses on a fresh database with their own topic
prefix, registers a venue, a terminal, a venue client and some cards, then drives physical-card
verifications over loopback with keep-alive HTTP/1.1 connections for a fixed time, and prints
verifications/s and latencies. The load comes from `hey` when it is installed (`apt-get install
hey`: a Go client, far cheaper per request than Python on the same cores; it repeats one body), else
from a small asyncio client cycling through the cards; `--client python` forces the latter.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from argparse import Namespace
from typing import Any

import httpx
from _common import arguments

from tests.support import people
from tests.support.databases import create_database
from tests.support.processes import ServiceGroup, create_platform_topics, serve, service_env

VENUE, TERMINAL, ITEM = "bench-venue-1", "bench-t1", "500000:30"


async def seed(catalog: str, identity: str, admin: dict[str, str], cards: int) -> dict[str, str]:
    async with httpx.AsyncClient(headers=admin, timeout=30) as client:
        venue = {"venue_id": VENUE, "name": "Bench library", "jurisdiction": "500106", "item_id": ITEM}
        (await client.post(f"{catalog}/catalog/v1/venues", json=venue)).raise_for_status()
        terminal = {"terminal_id": TERMINAL, "card_forms": ["physical", "electronic"]}
        (
            await client.post(f"{catalog}/catalog/v1/venues/{VENUE}/terminals", json=terminal)
        ).raise_for_status()
        registered = await client.post(
            f"{catalog}/catalog/v1/clients", json={"role": "venue", "name": "bench gate", "venues": [VENUE]}
        )
        registered.raise_for_status()
        for serial in range(cards):
            body = people.card(serial, prefix="B")
            (await client.post(f"{identity}/identity/v1/cards", json=body)).raise_for_status()
        venue_auth = {"Authorization": f"Bearer {registered.json()['token']}"}
        # The identity service learns the venue from the catalogue topic: wait for its view.
        for _ in range(300):
            probe = await client.post(
                f"{identity}/identity/v1/verifications", json=request(0), headers=venue_auth
            )
            if probe.status_code == 200 and probe.json()["verified"]:
                return venue_auth
            await asyncio.sleep(0.2)
    raise SystemExit("the identity service never saw the venue")


def request(serial: int) -> dict[str, Any]:
    return {
        "venue_id": VENUE,
        "terminal_id": TERMINAL,
        "method": "physical",
        "card": people.card(serial, prefix="B"),
    }


class Results:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.refused = 0


async def worker(port: int, auth: str, bodies: list[bytes], until: float, results: Results, n: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST /identity/v1/verifications HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n"
        "Content-Type: application/json\r\n"
    )
    i = n
    try:
        while time.perf_counter() < until:
            body = bodies[i % len(bodies)]
            i += 1
            started = time.perf_counter()
            writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
            status, payload = await read_response(reader)
            results.latencies.append(time.perf_counter() - started)
            if status != 200:
                results.errors += 1
            elif b'"verified":true' not in payload:
                results.refused += 1
    finally:
        writer.close()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    header = await reader.readuntil(b"\r\n\r\n")
    lines = header.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
    return status, await reader.readexactly(length)


async def drive(port: int, auth: str, cards: int, connections: int, seconds: float) -> Results:
    bodies = [json.dumps(request(s), ensure_ascii=False).encode() for s in range(cards)]
    results = Results()
    until = time.perf_counter() + seconds
    await asyncio.gather(*(worker(port, auth, bodies, until, results, n) for n in range(connections)))
    return results


def report(results: Results, seconds: float) -> None:
    lat = sorted(results.latencies)
    count = len(lat)
    quantiles = statistics.quantiles(lat, n=100, method="inclusive") if count > 1 else [0.0] * 99
    print(f"verifications: {count} in {seconds:.0f} s = {count / seconds:,.0f}/s")
    p50, p99, top = quantiles[49] * 1000, quantiles[98] * 1000, lat[-1] * 1000
    print(f"latency p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {top:.1f} ms")
    print(f"non-200 answers: {results.errors}; refused verifications: {results.refused}")


def drive_hey(port: int, auth: str, connections: int, seconds: float, body: bytes) -> None:
    """One card's body from `hey`; prints its throughput, latency quantiles and status counts."""
    with tempfile.NamedTemporaryFile(suffix=".json") as body_file:
        body_file.write(body)
        body_file.flush()
        out = _hey(port, auth, connections, seconds, body_file.name)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    quantile = dict(re.findall(r"(\d+)% in ([\d.]+) secs", out))
    statuses = re.findall(r"\[(\d+)\]\s+(\d+) responses", out)
    print(f"verifications: {rate:,.0f}/s (hey, {seconds:.0f} s)")
    p50, p99 = (float(quantile.get(q, "nan")) * 1000 for q in ("50", "99"))
    print(f"latency p50 {p50:.1f} ms, p99 {p99:.1f} ms; status codes: {dict(statuses)}")


def _hey(port: int, auth: str, connections: int, seconds: float, body_file: str) -> str:
    return subprocess.run(
        [
            "hey", "-z", f"{seconds:g}s", "-c", str(connections), "-m", "POST", "-T", "application/json",
            "-H", f"Authorization: {auth}", "-D", body_file,
            f"http://127.0.0.1:{port}/identity/v1/verifications",
        ],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def services(env: dict[str, str], port: int, profile_to: str | None) -> ServiceGroup:
    """Identity on `port` (under cProfile with `profile_to`), catalog on port+1 (not started)."""
    profile = [sys.executable, "-m", "cProfile", "-o", profile_to] if profile_to else []
    return ServiceGroup(
        {
            "catalog": serve("catalog", env, port=port + 1, inherit_output=True),
            "identity": serve("identity", env, port=port, wrapper=profile, inherit_output=True),
        },
        env,
    )


async def main(args: Namespace) -> None:
    pg = os.environ.get("ONECARD_TEST_DATABASE_URL")
    kafka = os.environ.get("ONECARD_TEST_KAFKA_BOOTSTRAP")
    if not pg or not kafka:
        raise SystemExit('run eval "$(bash deploy/local/servers.sh env)" first')
    admin_token = secrets.token_hex(16)
    env = service_env(
        await create_database(pg, "bench"),
        kafka,
        admin_token=admin_token,
        topic_prefix=f"bench{uuid.uuid4().hex[:8]}.",
        private_key=True,
    )
    await create_platform_topics(env)
    procs = services(env, args.port, args.profile)
    try:
        await procs.start(timeout=60)
        catalog, identity = procs.base("catalog"), procs.base("identity")
        auth = await seed(catalog, identity, {"Authorization": f"Bearer {admin_token}"}, args.cards)
        await drive(args.port, auth["Authorization"], args.cards, args.connections, 2.0)  # warm-up
        print(f"identity: {args.connections} connections, {args.seconds:.0f} s, {os.cpu_count()} CPUs")
        if args.client == "hey" or (args.client == "auto" and shutil.which("hey")):
            body = json.dumps(request(1), ensure_ascii=False).encode()
            await asyncio.to_thread(
                drive_hey, args.port, auth["Authorization"], args.connections, args.seconds, body
            )
            return
        results = await drive(args.port, auth["Authorization"], args.cards, args.connections, args.seconds)
        report(results, args.seconds)
    finally:
        procs.stop(timeout=20, sig=signal.SIGINT)


if __name__ == "__main__":
    parser = arguments(__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--cards", type=int, default=200)
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--client", choices=["auto", "hey", "python"], default="auto")
    parser.add_argument("--profile", help="write a cProfile of the identity process to this file")
    asyncio.run(main(parser.parse_args()))
    sys.exit(0)

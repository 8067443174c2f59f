"""Benchmark: card verifications per second through `onecard serve identity` (PostgreSQL + Kafka),
against the naive one-INSERT baseline in the same run.

    eval "$(bash deploy/local/servers.sh env)"
    .venv/bin/python bench/identity_verifications.py --seconds 20 --connections 32 --cards 1000

Starts the catalog and identity services as subprocesses on a fresh database with their own topic
prefix (identity with `--workers`, default 2), registers a venue, a terminal, a venue client and
`--cards` cards, and starts the baselines (bench/baselines/): `naive_insert` (one FastAPI file,
pydantic body, one asyncpg INSERT and commit per request) and `hello` (answers at once, a
reference). wrk drives each with the same Lua script cycling through every card's body, in
interleaved rounds; prints verifications/s, p50 and p99 of each, the medians and the ratio.
Every verification the project answers is durably committed (group commit) before its answer.
`--embedded` measures `onecard up` (one process, SQLite) against the same baselines instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import sys
import tempfile
import uuid
from argparse import Namespace
from pathlib import Path
from typing import Any

import httpx
from _common import Comparison, Load, asyncpg_url, baseline_app, profiled, wrk

from tests.support import people
from tests.support.databases import create_database
from tests.support.processes import ServiceGroup, create_platform_topics, embedded_env, serve, service_env, up

VENUE, TERMINAL, ITEM = "bench-venue-1", "bench-t1", "500000:30"
PATH = "/identity/v1/verifications"


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
        gate = asyncio.Semaphore(16)

        async def issue(serial: int) -> None:
            async with gate:
                body = people.card(serial, prefix="B")
                for attempt in range(3):  # a connection the server closed is tried again
                    try:
                        answer = await client.post(f"{identity}/identity/v1/cards", json=body)
                    except httpx.TransportError:
                        if attempt == 2:
                            raise
                        continue
                    if answer.status_code != 409:  # 409: an earlier attempt registered it
                        answer.raise_for_status()
                    return

        await asyncio.gather(*(issue(s) for s in range(cards)))
        venue_auth = {"Authorization": f"Bearer {registered.json()['token']}"}
        # The identity service learns the venue from the catalogue topic: wait for its view.
        for _ in range(300):
            probe = await client.post(f"{identity}{PATH}", json=request(0), headers=venue_auth)
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


def services(env: dict[str, str], port: int, workers: int, profile_to: str | None) -> ServiceGroup:
    """Identity on `port` (under cProfile with `profile_to`), catalog on port+1 (not started)."""
    profile = [sys.executable, "-m", "cProfile", "-o", profile_to] if profile_to else []
    return ServiceGroup(
        {
            "catalog": serve("catalog", env, port=port + 1, inherit_output=True),
            "identity": serve(
                "identity", env, port=port, wrapper=profile, inherit_output=True, workers=workers
            ),
        },
        env,
    )


async def main(args: Namespace) -> None:
    if args.smoke:
        args.seconds, args.connections, args.cards, args.rounds, args.workers = 1, 4, 20, 1, 2
    if args.client in ("hey", "python"):
        print(f"--client {args.client}: every benchmark now drives its load with wrk")
    pg = os.environ.get("ONECARD_TEST_DATABASE_URL")
    kafka = os.environ.get("ONECARD_TEST_KAFKA_BOOTSTRAP")
    if not pg or not kafka:
        raise SystemExit('run eval "$(bash deploy/local/servers.sh env)" first')
    admin_token = secrets.token_hex(16)
    database = await create_database(pg, "bench")
    prefix = f"bench{uuid.uuid4().hex[:8]}."
    # Seeding writes a card per request, each answered once it is on Kafka, for at most the
    # consistency bound: a transaction left open anywhere on a shared server holds the relay back
    # (ADR 0002), and 1,000 cards would each wait the full 5 s. Verifications never wait on it.
    env = service_env(
        database, kafka, admin_token=admin_token, topic_prefix=prefix, private_key=True,
        ONECARD_CONSISTENCY_WAIT_MS="500",
    )  # fmt: skip
    await create_platform_topics(env)
    data_dir = tempfile.TemporaryDirectory()
    if args.embedded:  # `onecard up`: all five services in one process, SQLite
        platform = up(Path(data_dir.name) / "data", embedded_env(admin_token), port=args.port)
        procs = ServiceGroup({"identity": platform}, platform.env)  # the catalog at the same address
    else:
        procs = services(env, args.port, args.workers, args.profile)
    naive = baseline_app("naive_insert", NAIVE_DATABASE_URL=asyncpg_url(database))
    hello = baseline_app("hello")
    try:
        await procs.start(timeout=90)
        await naive.start()
        await hello.start()
        identity = procs.base("identity")
        catalog = procs.base("catalog") if "catalog" in procs.processes else identity
        auth = await seed(catalog, identity, {"Authorization": f"Bearer {admin_token}"}, args.cards)
        bodies = [json.dumps(request(s), ensure_ascii=False).encode() for s in range(args.cards)]
        load = Load.posting(PATH, auth, bodies)

        def driving(url: str, seconds: float) -> Any:
            return lambda: wrk(
                url, load, connections=args.connections, seconds=seconds, unit="verifications/s"
            )

        if not args.smoke:  # warm-up: caches, pools, the interpreter's specialisations
            for url in (identity, naive.url):
                await driving(url, 3)()
        shape = "onecard up (embedded)" if args.embedded else f"{args.workers} workers"
        print(
            f"identity: {args.connections} connections, {args.seconds:.0f} s a round, {args.cards} cards, "
            f"{shape}, {os.cpu_count()} CPUs"
        )
        await Comparison(
            "identity verifications",
            driving(identity, args.seconds),
            driving(naive.url, args.seconds),
            "naive one-INSERT app",
            {"hello world": driving(hello.url, args.seconds)},
        ).run(args.rounds)
        if args.py_spy:
            pid = procs["identity"].process.pid  # type: ignore[union-attr]
            figure = await profiled(pid, args.seconds, Path(args.py_spy), driving(identity, args.seconds))
            print(f"project, profiled: {figure}")
    finally:
        procs.stop(timeout=20, sig=signal.SIGINT)
        naive.stop()
        hello.stop()
        data_dir.cleanup()


if __name__ == "__main__":
    from _common import arguments

    parser = arguments(__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--cards", type=int, default=1000)
    parser.add_argument("--port", type=int, default=18080)
    parser.add_argument("--workers", type=int, default=2, help="identity's request processes")
    parser.add_argument("--embedded", action="store_true", help="measure `onecard up` (SQLite) instead")
    parser.add_argument("--client", choices=["auto", "wrk", "hey", "python"], default="auto")
    parser.add_argument("--profile", help="write a cProfile of the identity process to this file")
    parser.add_argument("--py-spy", help="after the rounds, one more with py-spy on every identity process")
    asyncio.run(main(parser.parse_args()))
    sys.exit(0)

"""A batch of 100,000 payees end to end in the distributed mode, against a naive baseline.

One `onecard serve disbursement` child process on PostgreSQL + Kafka (fresh database, own topic
prefix); payees added in chunks of 20,000, the batch submitted and completed against the simulated
bank (1 % failed, 1 % returned). The baseline, bench/baselines/naive_insert.py, takes the same
requests (one executemany INSERT per chunk, no bank, completed at once): the floor of moving the
same payees over HTTP into PostgreSQL. Interleaved rounds; prints each phase's time, the medians of
the end-to-end seconds and their ratio (lower is better), and the service's peak RSS.

    eval "$(bash deploy/local/servers.sh env)"
    .venv/bin/python bench/disbursement_batch.py [--payees 100000] [--chunk 20000]
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path

import httpx
from _common import Comparison, Figure, arguments, asyncpg_url, baseline_app

from tests.disbursement.support import batch_body, create_program, item
from tests.support.catalogue import publish_catalog
from tests.support.people import person
from tests.support.processes import ChildProcess, distributed_env, serve


async def one_batch(target: ChildProcess, program_id: str, payees: int, chunk: int) -> Figure:
    """Declare, fill, submit and wait for one batch; its end-to-end seconds."""
    async with httpx.AsyncClient(base_url=target.url, timeout=300, headers=target.admin) as client:
        rows = [
            person(i, ref=f"{program_id}-{uuid.uuid4().hex[:6]}-{i:07d}", amount=10_000 + i % 5000)
            for i in range(payees)
        ]
        batch_id = f"B-{uuid.uuid4().hex[:8]}"
        started = time.perf_counter()
        assert (
            await client.post("/disbursement/v1/batches", json=batch_body(batch_id, program_id, rows))
        ).status_code == 201
        for start in range(0, payees, chunk):
            response = await client.post(
                f"/disbursement/v1/batches/{batch_id}/payees", json={"payees": rows[start : start + chunk]}
            )
            assert response.json()["accepted"] == len(rows[start : start + chunk]), response.text[:300]
        added = time.perf_counter()
        assert (await client.post(f"/disbursement/v1/batches/{batch_id}/submit")).status_code == 202
        while True:
            state = (await client.get(f"/disbursement/v1/batches/{batch_id}")).json()
            if state["status"] == "completed":
                break
            await asyncio.sleep(0.2)
        done = time.perf_counter()
        recon = (await client.get(f"/disbursement/v1/batches/{batch_id}/reconciliation")).json()
    print(
        f"  {target.name}: add {payees} payees {added - started:.2f} s, submit -> completed "
        f"{done - added:.2f} s (paid {state['paid']}, failed {state['failed']}, returned "
        f"{state['returned']}), reconciliation balanced={recon['balanced']}"
    )
    return Figure(done - started, "s end to end", lower_is_better=True)


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def run(payees: int, chunk: int, rounds: int) -> None:
    pg, kafka = os.environ["ONECARD_TEST_DATABASE_URL"], os.environ["ONECARD_TEST_KAFKA_BOOTSTRAP"]
    env = await distributed_env(
        pg, kafka, ONECARD_SIMBANK_FAIL_PER_MILLE="10", ONECARD_SIMBANK_RETURN_PER_MILLE="10"
    )
    served = serve("disbursement", env)
    naive = baseline_app("naive_insert", NAIVE_DATABASE_URL=asyncpg_url(env["ONECARD_DATABASE_URL"]))
    naive.env["ONECARD_ADMIN_TOKEN"] = env["ONECARD_ADMIN_TOKEN"]
    await served.start()
    await naive.start()
    try:
        item_id = f"500155:BENCH{uuid.uuid4().hex[:6]}"
        await publish_catalog(kafka, env["ONECARD_TOPIC_PREFIX"], item(item_id))

        async def project_round() -> Figure:
            # A program of its own each round: the same people paid twice in one program and
            # period are refused as duplicates.
            async with httpx.AsyncClient(base_url=served.url, timeout=300, headers=served.admin) as client:
                program_id = await create_program(client, served.admin, item_id)
            return await one_batch(served, program_id, payees, chunk)

        print(f"disbursement: {payees} payees in chunks of {chunk}")
        await Comparison(
            f"disbursement batch of {payees:,} payees",
            project_round,
            lambda: one_batch(naive, "P-naive", payees, chunk),
            "naive one-INSERT app",
        ).run(rounds)
        assert served.process is not None
        print(f"disbursement service peak RSS: {peak_rss_mb(served.process.pid):.0f} MB")
    finally:
        served.stop()
        naive.stop()


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--payees", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=20_000)
    args = parser.parse_args()
    if args.smoke:
        args.payees, args.chunk, args.rounds = 200, 100, 1
    asyncio.run(run(args.payees, args.chunk, args.rounds))


if __name__ == "__main__":
    main()

"""A batch of 100,000 payees end to end in the distributed mode.

One `onecard serve disbursement` child process on PostgreSQL + Kafka (fresh database, own topic
prefix); payees added in chunks of 20,000, the batch submitted and completed against the simulated
bank (1 % failed, 1 % returned). Prints the time of each phase; the target is < 60 s in all.

    eval "$(bash deploy/local/servers.sh env)"
    .venv/bin/python bench/disbursement_batch.py [--payees 100000] [--chunk 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.disbursement.process import ServedDisbursement, create_program, item
from tests.disbursement.support import person


async def run(payees: int, chunk: int) -> None:
    pg, kafka = os.environ["ONECARD_TEST_DATABASE_URL"], os.environ["ONECARD_TEST_KAFKA_BOOTSTRAP"]
    served = await ServedDisbursement.prepare(
        pg, kafka, ONECARD_SIMBANK_FAIL_PER_MILLE="10", ONECARD_SIMBANK_RETURN_PER_MILLE="10"
    )
    await served.start()
    try:
        async with httpx.AsyncClient(base_url=served.base, timeout=300, headers=served.headers) as client:
            item_id = f"500155:BENCH{uuid.uuid4().hex[:6]}"
            await served.publish_item(item(item_id))
            program_id = await create_program(client, served.headers, item_id)
            rows = [person(i, ref=f"{program_id}-{i:07d}", amount=10_000 + i % 5000) for i in range(payees)]
            batch_id = f"B-{uuid.uuid4().hex[:8]}"
            body = {
                "batch_id": batch_id,
                "program_id": program_id,
                "period": "2025-06",
                "control_count": payees,
                "control_total_fen": sum(r["amount_fen"] for r in rows),
            }
            started = time.perf_counter()
            assert (await client.post("/disbursement/v1/batches", json=body)).status_code == 201
            for start in range(0, payees, chunk):
                t = time.perf_counter()
                response = await client.post(
                    f"/disbursement/v1/batches/{batch_id}/payees",
                    json={"payees": rows[start : start + chunk]},
                )
                assert response.json()["accepted"] == len(rows[start : start + chunk]), response.text[:300]
                print(f"payees {start + chunk:>7}: {time.perf_counter() - t:6.2f} s")
            added = time.perf_counter()
            assert (await client.post(f"/disbursement/v1/batches/{batch_id}/submit")).status_code == 202
            while True:
                state = (await client.get(f"/disbursement/v1/batches/{batch_id}")).json()
                if state["status"] == "completed":
                    break
                await asyncio.sleep(0.2)
            done = time.perf_counter()
            recon = (await client.get(f"/disbursement/v1/batches/{batch_id}/reconciliation")).json()
            reconciled = time.perf_counter()
        print(f"add {payees} payees: {added - started:6.2f} s")
        print(
            f"submit -> completed: {done - added:6.2f} s "
            f"(paid {state['paid']}, failed {state['failed']}, returned {state['returned']})"
        )
        print(f"end to end:          {done - started:6.2f} s")
        print(f"reconciliation:      {reconciled - done:6.2f} s, balanced={recon['balanced']}")
    finally:
        served.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--payees", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=20_000)
    args = parser.parse_args()
    asyncio.run(run(args.payees, args.chunk))


if __name__ == "__main__":
    main()

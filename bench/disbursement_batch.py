"""A batch of 100,000 payees end to end in the distributed mode.

One `onecard serve disbursement` child process on PostgreSQL + Kafka (fresh database, own topic
prefix); payees added in chunks of 20,000, the batch submitted and completed against the simulated
bank (1 % failed, 1 % returned). Prints the time of each phase; the target is < 60 s in all.

    eval "$(bash deploy/local/servers.sh env)"
    .venv/bin/python bench/disbursement_batch.py [--payees 100000] [--chunk 20000]
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import httpx
from _common import arguments

from tests.disbursement.support import batch_body, create_program, item
from tests.support.catalogue import publish_catalog
from tests.support.people import person
from tests.support.processes import distributed_env, serve


async def run(payees: int, chunk: int) -> None:
    pg, kafka = os.environ["ONECARD_TEST_DATABASE_URL"], os.environ["ONECARD_TEST_KAFKA_BOOTSTRAP"]
    env = await distributed_env(
        pg, kafka, ONECARD_SIMBANK_FAIL_PER_MILLE="10", ONECARD_SIMBANK_RETURN_PER_MILLE="10"
    )
    served = serve("disbursement", env)
    await served.start()
    try:
        async with httpx.AsyncClient(base_url=served.url, timeout=300, headers=served.admin) as client:
            item_id = f"500155:BENCH{uuid.uuid4().hex[:6]}"
            await publish_catalog(kafka, env["ONECARD_TOPIC_PREFIX"], item(item_id))
            program_id = await create_program(client, served.admin, item_id)
            rows = [person(i, ref=f"{program_id}-{i:07d}", amount=10_000 + i % 5000) for i in range(payees)]
            batch_id = f"B-{uuid.uuid4().hex[:8]}"
            body = batch_body(batch_id, program_id, rows)
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
    parser = arguments(__doc__)
    parser.add_argument("--payees", type=int, default=100_000)
    parser.add_argument("--chunk", type=int, default=20_000)
    args = parser.parse_args()
    asyncio.run(run(args.payees, args.chunk))


if __name__ == "__main__":
    main()

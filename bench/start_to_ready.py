"""Start-to-ready of the embedded default: `onecard up` on a fresh data directory, from spawning
the process to `GET /readyz` answering 200 (all five services ready: migrated, catalogue seeded,
every view current), and to the progress report listing the whole catalogue.

The naive reference, started in the same run and timed the same way: a bare FastAPI app under
uvicorn answering `GET /readyz` (a Python process, its imports and a socket: the floor any
service pays). Three interleaved rounds (platform, reference, platform, ...); prints the median of
each and their ratio (lower is better).

    .venv/bin/python bench/start_to_ready.py [--rounds 3]
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _common import Comparison, Figure, arguments

from tests.support.ports import free_port
from tests.support.processes import ADMIN_TOKEN, embedded_env, up

BARE_APP = """
import sys, uvicorn
from fastapi import FastAPI
app = FastAPI()
@app.get("/readyz")
def ready() -> dict[str, str]:
    return {"status": "ready"}
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


async def until_ready(url: str, process: subprocess.Popen[bytes], started: float) -> float:
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"exited with {process.returncode}")
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.01)


def launch_bare(port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", BARE_APP, str(port)])


async def bare() -> float:
    port = free_port()
    started = time.perf_counter()
    process = launch_bare(port)
    try:
        return await until_ready(f"http://127.0.0.1:{port}", process, started)
    finally:
        process.terminate()
        process.wait()


async def platform() -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as data:
        child = up(Path(data) / "data", embedded_env())
        started = time.perf_counter()
        child.launch()
        try:
            assert child.process is not None
            ready = await until_ready(child.url, child.process, started)
            headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            async with httpx.AsyncClient(base_url=child.url, headers=headers, timeout=10) as client:
                report = (await client.get("/reporting/v1/progress", params={"year": 2026})).json()
            return ready, len(report["rows"])
        finally:
            child.stop()


async def main() -> None:
    args = arguments(__doc__).parse_args()
    rounds = 1 if args.smoke else args.rounds
    items: list[int] = []

    async def bare_app() -> Figure:
        return Figure(await bare(), "s to ready", lower_is_better=True)

    async def onecard_up() -> Figure:
        ready, listed = await platform()
        items.append(listed)
        return Figure(ready, "s to ready", lower_is_better=True)

    await Comparison("onecard up start-to-ready", onecard_up, bare_app, "bare FastAPI app").run(rounds)
    print(f"items in the first progress report: {items}")


if __name__ == "__main__":
    asyncio.run(main())

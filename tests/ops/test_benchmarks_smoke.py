"""Every benchmark in bench/ runs with a tiny load (`--smoke`) and prints the project's figure,
its baseline's and their ratio: the scripts cannot rot between the runs that measure. No figure is
judged here (the benchmarks are measurements, docs/benchmarks.md)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCHES = [
    "identity_verifications.py",
    "payments_throughput.py",
    "catalog_items.py",
    "disbursement_batch.py",
    "reporting_projection.py",
    "eventstore.py",
    "start_to_ready.py",
]


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)")
@pytest.mark.parametrize("script", BENCHES)
async def test_the_benchmark_prints_project_baseline_and_ratio(
    script: str, pg_url: str, kafka_bootstrap: str
) -> None:
    env = {
        **os.environ,
        "ONECARD_TEST_DATABASE_URL": pg_url,
        "ONECARD_TEST_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "ONECARD_LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "bench" / script),
        "--smoke",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,  # its own process group: the services it started go with it
    )
    try:
        out = (await proc.communicate())[0].decode(errors="replace")
    finally:
        if proc.returncode is None:  # the test timed out: leave no benchmark running
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
    assert proc.returncode == 0, f"{script} exited {proc.returncode}:\n{out[-3000:]}"
    lines = out.splitlines()
    for label in ("project:", "baseline (", "ratio (project / baseline):"):
        assert any(line.startswith(label) for line in lines), f"{script} printed no {label!r}:\n{out[-3000:]}"

"""The OpenAPI documents describe the API as it answers (issue 15): schemathesis, with every
check on (an undocumented status, content type or header fails it), over all five services of
`onecard up`, with a bounded number of examples and a fixed seed."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from tests.support.platform import ADMIN_TOKEN, ALL_SERVICES
from tests.support.processes import embedded_env, up

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"
CONFIG = Path(__file__).with_name("schemathesis.toml")


async def schemathesis(base: str, service: str) -> tuple[int, str]:
    run = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        f"{base}/{service}/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        "5",
        "--seed",
        "15",
        "--no-shrink",
        "--workers",
        "1",
        "--header",
        f"Authorization: Bearer {ADMIN_TOKEN}",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await run.communicate()
    return run.returncode or 0, out.decode(errors="replace")


async def test_every_service_answers_as_its_openapi_document_says(tmp_path: Path) -> None:
    # No rate limit in the way: 429 is documented, but it would stop the run from testing anything.
    platform = up(tmp_path / "data", embedded_env(ONECARD_RATE_LIMITS="admin=off,address=off"))
    platform.log = tmp_path / "onecard.log"
    await platform.start(timeout=120)
    try:
        runs = await asyncio.gather(*(schemathesis(platform.url, service) for service in ALL_SERVICES))
    finally:
        platform.stop()
    failed = {service: out[-6000:] for service, (code, out) in zip(ALL_SERVICES, runs, strict=True) if code}
    assert not failed, "\n\n".join(f"== {service}\n{out}" for service, out in failed.items())

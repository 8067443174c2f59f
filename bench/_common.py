"""What the benchmarks share: arguments, the load generator, the baselines, interleaved rounds.

Importing it puts the repository root on sys.path, so that a benchmark run as a script
(`.venv/bin/python bench/<name>.py`, from the repository root) can import `tests.support`, where
the set-up the tests use lives (databases, processes, people, catalogue).

Every benchmark measures the project and a naive baseline in the same run, on the same machine,
with the same load generator (Debian's `wrk`, with a Lua script that cycles through many different
request bodies), in interleaved rounds (project, baseline, project, baseline, ...), and prints both
medians and their ratio: the machine's noise (it is shared) mostly cancels in the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.ports import free_port  # noqa: E402
from tests.support.processes import ChildProcess  # noqa: E402

BASELINES = Path(__file__).resolve().parent / "baselines"
# The benchmarks' own client logs (httpx logs every request at INFO) would drown their figures.
logging.getLogger("httpx").setLevel(logging.WARNING)


def arguments(doc: str | None) -> argparse.ArgumentParser:
    """A benchmark's argument parser, its description the module's docstring; `--smoke` (a tiny
    load, one round: the test command runs it so the script cannot rot) and `--rounds`."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (the median is reported)")
    parser.add_argument("--smoke", action="store_true", help="a tiny load and one round: checks it runs")
    return parser


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank `p`th percentile (0 to 100) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


@dataclass(frozen=True)
class Figure:
    """One round's measurement: `value` in `unit` (higher is better unless `lower_is_better`),
    with latency quantiles when there are some."""

    value: float
    unit: str
    p50_ms: float | None = None
    p99_ms: float | None = None
    errors: int = 0
    lower_is_better: bool = False

    def __str__(self) -> str:
        digits = 0 if abs(self.value) >= 100 else 1 if abs(self.value) >= 10 else 2
        text = f"{self.value:,.{digits}f} {self.unit}"
        if self.p50_ms is not None:
            text += f", p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms"
        return text + (f", {self.errors} errors" if self.errors else "")


Measure = Callable[[], Awaitable[Figure]]


@dataclass
class Comparison:
    """Interleaved rounds of the project against its baseline (and reference figures alongside)."""

    title: str
    project: Measure
    baseline: Measure
    baseline_name: str
    references: dict[str, Measure] = field(default_factory=dict)

    async def run(self, rounds: int) -> dict[str, Figure]:
        runs: dict[str, list[Figure]] = {"project": [], self.baseline_name: []}
        runs.update({name: [] for name in self.references})
        for i in range(rounds):
            measures = [("project", self.project), (self.baseline_name, self.baseline)]
            for name, measure in [*measures, *self.references.items()]:
                figure = await measure()
                runs[name].append(figure)
                print(f"round {i + 1}: {name}: {figure}", flush=True)
        medians = {name: _median(figures) for name, figures in runs.items()}
        project, baseline = medians["project"], medians[self.baseline_name]
        load = os.getloadavg()[0]
        print(f"== {self.title} (medians of {rounds} rounds, 1-minute load average {load:.2f})")
        print(f"project: {project}")
        print(f"baseline ({self.baseline_name}): {baseline}")
        for name in self.references:
            print(f"reference ({name}): {medians[name]}")
        print(f"ratio (project / baseline): {project.value / baseline.value:.2f}", end="")
        if project.p99_ms is not None and baseline.p99_ms:
            print(f"; p99 ratio {project.p99_ms / baseline.p99_ms:.2f}", end="")
        print(flush=True)
        return medians


def _median(figures: Sequence[Figure]) -> Figure:
    def mid(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return statistics.median(known) if known else None

    first = figures[0]
    return Figure(
        statistics.median(f.value for f in figures),
        first.unit,
        mid([f.p50_ms for f in figures]),
        mid([f.p99_ms for f in figures]),
        sum(f.errors for f in figures),
        first.lower_is_better,
    )


# --- the load generator ---------------------------------------------------------------------


def _lua_string(text: str) -> str:
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    return f"[{'=' * level}[{text}]{'=' * level}]"


def wrk_script(method: str, headers: dict[str, str], requests: Sequence[tuple[str, bytes]]) -> str:
    """A wrk Lua script sending `requests` (path, body) in turn, each thread from its own offset,
    formatted once at start; its `done` prints one machine-readable RESULT line."""
    lines = ["local requests = {}", "local n = 0", "local paths, bodies = {}, {}"]
    for path, body in requests:
        lines.append(
            f"paths[#paths + 1] = {_lua_string(path)}; bodies[#bodies + 1] = {_lua_string(body.decode())}"
        )
    header_table = ", ".join(f"[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items())
    lines += [
        "local counter = 0",
        "function setup(thread) thread:set('offset', counter); counter = counter + 1 end",
        "function init(args)",
        f"  local headers = {{{header_table}}}",
        "  for i, body in ipairs(bodies) do",
        f"    requests[i] = wrk.format({_lua_string(method)}, paths[i], headers, body ~= '' and body or nil)",
        "  end",
        "  n = (tonumber(offset) or 0) * 97",
        "end",
        "function request() n = n + 1; return requests[(n % #requests) + 1] end",
        "function done(summary, latency, requests)",
        "  io.write(string.format('RESULT %d %d %d %d %d %d %d\\n', summary.requests, summary.duration,",
        "    latency:percentile(50), latency:percentile(99), summary.errors.status,",
        "    summary.errors.connect + summary.errors.read + summary.errors.write, summary.errors.timeout))",
        "end",
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Load:
    """What wrk sends: `method` with `headers`, cycling through `requests` (path, body)."""

    method: str
    headers: dict[str, str]
    requests: Sequence[tuple[str, bytes]]

    @classmethod
    def posting(cls, path: str, headers: dict[str, str], bodies: Sequence[bytes]) -> Load:
        return cls("POST", {"Content-Type": "application/json", **headers}, [(path, b) for b in bodies])


async def wrk(url: str, load: Load, *, connections: int, seconds: float, unit: str = "requests/s") -> Figure:
    """Drive `url` (scheme://host:port) with wrk for `seconds`; throughput and latency."""
    if shutil.which("wrk") is None:
        raise SystemExit("the benchmarks need wrk: apt-get install wrk")
    threads = max(1, min(2, connections))
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(wrk_script(load.method, load.headers, load.requests))
        script.flush()
        command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s"]
        command += ["--timeout", "10s", "-s", script.name, url + load.requests[0][0]]
        proc = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True)
    found = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)", proc.stdout)
    if proc.returncode != 0 or found is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stdout}\n{proc.stderr}")
    requests, duration_us, p50, p99, bad_status, socket_errors, timeouts = map(int, found.groups())
    return Figure(
        requests / (duration_us / 1e6), unit, p50 / 1000, p99 / 1000, bad_status + socket_errors + timeouts
    )


# --- profiles ---------------------------------------------------------------------------------

PY_SPY = os.environ.get("PY_SPY", shutil.which("py-spy") or "/tmp/pyspy/bin/py-spy")


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (a service started with `--workers` and its worker processes)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            queue += [int(c) for c in children.read_text().split()]
    return found


def _start_recorders(pids: list[int], seconds: float, into: Path) -> list[subprocess.Popen[bytes]]:
    into.mkdir(parents=True, exist_ok=True)
    recorders = []
    for target in pids:
        for fmt, suffix in (("flamegraph", "svg"), ("raw", "txt")):
            command = [PY_SPY, "record", "--nonblocking", "-r", "50", "-d", str(round(seconds))]
            command += ["-f", fmt, "-o", str(into / f"{target}.{suffix}"), "--pid", str(target)]
            recorders.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return recorders


async def profiled(pid: int, seconds: float, into: Path, measure: Measure) -> Figure:
    """`measure()` while py-spy records every process of `pid`'s tree: a flame graph
    (`<pid>.svg`) and collapsed stacks (`<pid>.txt`, for grep) per process, in `into`."""
    recorders = _start_recorders(process_tree(pid), seconds, into)
    try:
        return await measure()
    finally:
        for recorder in recorders:
            await asyncio.to_thread(recorder.wait)
        print(f"profiles of {len(recorders) // 2} processes in {into}")


# --- the baselines --------------------------------------------------------------------------


def baseline_app(name: str, port: int | None = None, **env: str) -> ChildProcess:
    """One of the naive apps in bench/baselines/ (`naive_insert`, `hello`) under uvicorn, one
    process, on a free loopback port (not started yet); ready once `GET /ready` answers."""
    port = port or free_port()
    command = [sys.executable, "-m", "uvicorn", f"{name}:app", "--app-dir", str(BASELINES)]
    command += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    return ChildProcess(name, command, port, "/ready", {**os.environ, **env}, inherit_output=True)


def asyncpg_url(sqlalchemy_url: str) -> str:
    """The plain PostgreSQL URL (asyncpg's) of a SQLAlchemy `postgresql+asyncpg://` URL."""
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)

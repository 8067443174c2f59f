"""Services, the whole platform or a relay as child processes, the way they run in production:
`onecard serve <service>` (distributed mode, PostgreSQL and Kafka), `onecard up` (embedded).

Each distributed run gets a fresh database, its own topic prefix and its own keys
(`distributed_env`). A `ChildProcess` is started, waited for until its readiness endpoint answers
200, stopped (SIGTERM, then SIGKILL after a grace period) or killed (SIGKILL: no shutdown hooks,
no flushing).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from onecard_events.database import Database, open_database
from onecard_events.kafka import create_topics, platform_topics
from onecard_service.settings import generate_token_keypair

from tests.support.databases import migrated_database
from tests.support.names import unique
from tests.support.platform import ADMIN_TOKEN, admin_headers
from tests.support.ports import free_port

ONECARD = Path(sys.executable).parent / "onecard"
ROOT = Path(__file__).resolve().parents[2]


def embedded_env(admin_token: str = ADMIN_TOKEN, **extra: str) -> dict[str, str]:
    """The environment of `onecard up` (no servers, no keys to provide)."""
    return {**os.environ, "ONECARD_ADMIN_TOKEN": admin_token, "ONECARD_LOG_LEVEL": "WARNING", **extra}


def service_env(
    database_url: str,
    kafka: str,
    *,
    admin_token: str = ADMIN_TOKEN,
    topic_prefix: str | None = None,
    private_key: bool = False,
    **extra: str,
) -> dict[str, str]:
    """The environment of `onecard serve` in the distributed mode: fresh keys, and the token
    private key only where a process signs tokens (`private_key`, the catalog)."""
    private_pem, public_pem = generate_token_keypair()
    env = {
        **os.environ,
        "ONECARD_DATABASE_URL": database_url,
        "ONECARD_KAFKA_BOOTSTRAP": kafka,
        "ONECARD_TOPIC_PREFIX": topic_prefix if topic_prefix is not None else unique("t") + ".",
        "ONECARD_TOKEN_PUBLIC_KEY": public_pem.decode(),
        "ONECARD_PII_KEY": os.urandom(32).hex(),
        "ONECARD_ADMIN_TOKEN": admin_token,
        "ONECARD_LOG_LEVEL": "WARNING",
    }
    if private_key:
        env["ONECARD_TOKEN_PRIVATE_KEY"] = private_pem.decode()
    return {**env, **extra}


async def create_platform_topics(env: dict[str, str], partitions: int = 2) -> None:
    """The platform's topics under the env's prefix, for its partners (what `onecard topics` does)."""
    partners = tuple(p for p in env.get("ONECARD_PARTNERS", "510000").split(",") if p)
    specs = platform_topics(partners, partitions, env["ONECARD_TOPIC_PREFIX"])
    await create_topics(env["ONECARD_KAFKA_BOOTSTRAP"], specs)


async def distributed_env(
    pg_url: str,
    kafka: str,
    *,
    database_prefix: str = "db",
    partitions: int = 2,
    admin_token: str = ADMIN_TOKEN,
    topic_prefix: str | None = None,
    private_key: bool = False,
    **extra: str,
) -> dict[str, str]:
    """`service_env` on a fresh database, with the platform's topics created."""
    database_url = await migrated_database(pg_url, database_prefix)
    env = service_env(
        database_url,
        kafka,
        admin_token=admin_token,
        topic_prefix=topic_prefix,
        private_key=private_key,
        **extra,
    )
    await create_platform_topics(env, partitions)
    return env


async def run_onecard(*args: str, env: dict[str, str]) -> None:
    """`onecard <args>` to completion (e.g. `migrate`); raises with its error output on failure."""
    proc = await asyncio.create_subprocess_exec(
        str(ONECARD), *args, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"onecard {' '.join(args)} failed: {err.decode()[-2000:]}")


@dataclass
class ChildProcess:
    """A server as a child process on a loopback port, ready once `ready_path` answers 200."""

    name: str
    command: list[str]
    port: int
    ready_path: str
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    log: Path | None = None  # appended to across restarts; None: discard (or inherit, below)
    inherit_output: bool = False
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin(self) -> dict[str, str]:
        return admin_headers(self.env["ONECARD_ADMIN_TOKEN"])

    def database(self, schema: str) -> Database:
        return open_database(self.env["ONECARD_DATABASE_URL"], schema=schema)

    def launch(self, **extra_env: str) -> None:
        """Start the process and return at once (see `wait_ready`)."""
        if self.log is not None:
            with self.log.open("ab") as out:
                self.process = subprocess.Popen(
                    self.command, env={**self.env, **extra_env}, stdout=out, stderr=out
                )
            return
        out = None if self.inherit_output else subprocess.DEVNULL
        self.process = subprocess.Popen(self.command, env={**self.env, **extra_env}, stdout=out, stderr=out)

    async def wait_ready(self, timeout: float = 60, interval: float = 0.2) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(base_url=self.url, timeout=5) as client:
            while True:
                self.check_alive()
                try:
                    if (await client.get(self.ready_path)).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{self.name} did not become ready:\n{self.tail()}")
                await asyncio.sleep(interval)

    async def start(self, timeout: float = 60, **extra_env: str) -> None:
        """Start the process and wait until it is ready; `extra_env` for this run only."""
        self.launch(**extra_env)
        await self.wait_ready(timeout)

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited ({self.process.returncode}):\n{self.tail()}")

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log and self.log.exists() else ""

    def send(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing; whatever was committed is all that remains."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout: float = 20, sig: int = signal.SIGTERM) -> None:
        """`sig` (SIGTERM), then SIGKILL if the process has not ended within `timeout` seconds."""
        self.send(sig)
        self.reap(timeout)

    def reap(self, timeout: float = 20) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()


def serve(
    service: str,
    env: dict[str, str],
    *,
    port: int | None = None,
    migrate: bool = True,
    host: str | None = None,
    log: Path | None = None,
    inherit_output: bool = False,
    wrapper: Sequence[str] = (),
    workers: int = 1,
) -> ChildProcess:
    """`onecard serve <service>` (not started yet); `wrapper` goes before the command (a profiler)."""
    port = port or free_port()
    command = [*wrapper, str(ONECARD), "serve", service, "--port", str(port)]
    command += ["--migrate"] if migrate else []
    command += ["--workers", str(workers)] if workers > 1 else []
    command += ["--host", host] if host else []
    return ChildProcess(service, command, port, f"/{service}/readyz", env, log, inherit_output)


def up(data_dir: Path, env: dict[str, str] | None = None, *, port: int | None = None) -> ChildProcess:
    """`onecard up`: the whole platform in one process, embedded mode (not started yet)."""
    port = port or free_port()
    command = [str(ONECARD), "up", "--port", str(port), "--data-dir", str(data_dir)]
    return ChildProcess("onecard up", command, port, "/readyz", env or embedded_env())  # all five


@dataclass
class ServiceGroup:
    """Several services as processes, started together and stopped together."""

    processes: dict[str, ChildProcess]
    env: dict[str, str]

    @classmethod
    def serve(
        cls,
        services: Sequence[str],
        env: dict[str, str],
        *,
        logs: Path | None = None,
        migrate: bool = True,
        host: str | None = None,
    ) -> ServiceGroup:
        """`onecard serve` for each service, on free ports; logs in `<logs>/<service>.log`."""
        return cls(
            {
                name: serve(name, env, migrate=migrate, host=host, log=logs / f"{name}.log" if logs else None)
                for name in services
            },
            env,
        )

    def __getitem__(self, service: str) -> ChildProcess:
        return self.processes[service]

    @property
    def ports(self) -> dict[str, int]:
        return {name: p.port for name, p in self.processes.items()}

    def base(self, service: str) -> str:
        return self.processes[service].url

    async def start(self, timeout: float = 90) -> None:
        for p in self.processes.values():
            p.launch()
        deadline = time.monotonic() + timeout
        for p in self.processes.values():
            await p.wait_ready(max(1.0, deadline - time.monotonic()))

    def check_alive(self) -> None:
        for p in self.processes.values():
            p.check_alive()

    def stop(self, timeout: float = 15, sig: int = signal.SIGTERM) -> None:
        for p in self.processes.values():
            p.send(sig)
        for p in self.processes.values():
            p.reap(timeout)


@contextlib.asynccontextmanager
async def served(
    services: Sequence[str], env: dict[str, str], logs: Path, timeout: float = 90
) -> AsyncIterator[ServiceGroup]:
    """`onecard migrate` (as the chart's hook does), then `onecard serve` for each service on
    loopback, logs in `logs`; ready on entry, stopped on exit. No tracing exporter."""
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    await run_onecard("migrate", env=env)
    group = ServiceGroup.serve(services, env, logs=logs, migrate=False, host="127.0.0.1")
    try:
        await group.start(timeout=timeout)
        yield group
    finally:
        group.stop()


def start_relay(pg_url: str, schema: str, bootstrap: str, topic: str) -> subprocess.Popen[bytes]:
    """A relay of the store in `schema` to `topic`, as its own process (`tests/support/relay.py`)."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.relay", pg_url, schema, bootstrap, topic],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

"""The chaos suite's toolbox (tests/faults/test_chaos.py): its own PostgreSQL and Kafka, which it
stops and starts under load; a venue's steady verification load with a ledger of every answer;
tallies of what a Kafka topic holds; and the recovery table.

The servers are started with `deploy/local/postgres.sh` and `deploy/local/kafka.sh` on a state
directory and ports of their own, so stopping them never disturbs the servers other tests share.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import os
import random
import shutil
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from onecard_events.cloudevents import header_map
from onecard_events.database import Database, open_database
from sqlalchemy import text

from tests.support.ports import free_port
from tests.support.processes import ROOT

SCRIPTS = ROOT / "deploy" / "local"
PG_BIN = Path("/usr/lib/postgresql/15/bin")

# -- servers of its own -------------------------------------------------------------------------


def servers_missing() -> str | None:
    """Why the suite cannot start its own servers here, or None."""
    if shutil.which(os.environ.get("JAVA", "java")) is None:
        return "java is not on PATH (the chaos suite runs its own Kafka)"
    if not (PG_BIN / "postgres").exists() and os.geteuid() != 0:
        return f"PostgreSQL 15 binaries missing in {PG_BIN} (the chaos suite runs its own PostgreSQL)"
    return None


def _distinct_ports(n: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < n:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


@dataclass
class OwnServers:
    """PostgreSQL and Kafka for this suite alone: `<state>/pg`, `<state>/kafka`, ports below 32768."""

    state: Path
    pg_port: int
    kafka_port: int
    controller_port: int
    pg_url: str = ""
    kafka_bootstrap: str = ""

    @classmethod
    def allocate(cls, state: Path) -> OwnServers:
        pg, kafka, controller = _distinct_ports(3)
        return cls(state, pg, kafka, controller)

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "ONECARD_LOCAL_STATE": str(self.state),
            "ONECARD_PG_PORT": str(self.pg_port),
            "ONECARD_KAFKA_PORT": str(self.kafka_port),
            "ONECARD_KAFKA_CONTROLLER_PORT": str(self.controller_port),
        }

    @property
    def script_log(self) -> Path:
        return self.state / "servers.log"

    async def run(self, server: str, command: str, timeout: float = 240) -> str:
        """`deploy/local/<server>.sh <command>`, its progress appended to `servers.log`; returns
        its stdout, raises with the end of its output when it fails."""
        proc = await asyncio.create_subprocess_exec(
            "bash",
            str(SCRIPTS / f"{server}.sh"),
            command,
            env=self.env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise RuntimeError(f"{server}.sh {command} did not finish within {timeout}s") from None
        with self.script_log.open("ab") as log:
            log.write(
                f"--- {time.strftime('%H:%M:%S')} {server}.sh {command}: rc {proc.returncode}\n".encode()
            )
            log.write(err)
        if proc.returncode != 0:
            raise RuntimeError(f"{server}.sh {command} failed ({proc.returncode}):\n{err.decode()[-3000:]}")
        return out.decode().strip()

    async def start(self) -> None:
        await asyncio.gather(self.run("postgres", "start"), self.run("kafka", "start"))
        self.pg_url = await self.run("postgres", "url")
        self.kafka_bootstrap = await self.run("kafka", "bootstrap")

    async def stop(self) -> None:
        """Both stopped, whatever happens to either."""
        for server in ("kafka", "postgres"):
            with contextlib.suppress(Exception):
                await self.run(server, "stop")

    def discard_data(self) -> None:
        """The data directories (logs stay, for the evidence)."""
        for data in (self.state / "pg" / "data", self.state / "kafka" / "data"):
            shutil.rmtree(data, ignore_errors=True)


# -- the venue's load ----------------------------------------------------------------------------

RETRYABLE = (503,)


@dataclass
class Answer:
    """One verification as the venue sees it: first sent, retried with the same key, answered."""

    key: str
    kind: str  # "local", "partner" (a Sichuan card: cross-region) or "unknown" (refused)
    sent: float
    tries: int = 0
    lost: list[str] = field(default_factory=list)  # what each try without an answer got
    status: int | None = None
    body: dict[str, Any] | None = None
    answered: float | None = None
    wall: str = field(default_factory=lambda: time.strftime("%H:%M:%S"))  # when first sent (UTC)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def verification_id(self) -> str | None:
        return str(self.body["verification_id"]) if self.ok and self.body else None


class VenueLoad:
    """Card verifications at `rate` per second from one venue, each sent with an Idempotency-Key
    and retried with the same key while its answer is lost (connection error, timeout, 503), as a
    venue's terminal does. Every answer goes into `answers`."""

    def __init__(
        self,
        base_url: str,
        auth: dict[str, str],
        bodies: Mapping[str, Sequence[dict[str, Any]]],
        *,
        rate: float = 25.0,
        mix: Sequence[str] = ("local", "local", "local", "partner", "local", "unknown", "local", "partner"),
        give_up_after: float = 150.0,
        max_in_flight: int = 600,
    ) -> None:
        self.bodies = bodies
        self.rate = rate
        self.mix = itertools.cycle(mix)
        self.give_up_after = give_up_after
        self.max_in_flight = max_in_flight
        self.answers: list[Answer] = []
        self.skipped = 0
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers=auth,
            timeout=httpx.Timeout(10.0, connect=2.0),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )
        self._tasks: set[asyncio.Task[Answer]] = set()
        self._stop = asyncio.Event()
        self._driver: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._driver = asyncio.create_task(self._drive())

    async def stop(self, drain: float = 60.0) -> None:
        """Stop sending new verifications and wait (up to `drain` s) for the ones still retrying."""
        self._stop.set()
        if self._driver is not None:
            await self._driver
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=drain)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()

    async def _drive(self) -> None:
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        while not self._stop.is_set():
            if len(self._tasks) < self.max_in_flight:
                task = asyncio.create_task(self.verify(next(self.mix)))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            else:
                self.skipped += 1
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))

    async def verify(self, kind: str = "local") -> Answer:
        """One verification, retried with its key until it is answered (or the venue gives up)."""
        body = random.choice(self.bodies[kind])
        answer = Answer(uuid.uuid4().hex, kind, time.monotonic())
        self.answers.append(answer)
        headers = {"Idempotency-Key": answer.key}
        while True:
            answer.tries += 1
            wait = 0.25
            try:
                response = await self._client.post("/identity/v1/verifications", json=body, headers=headers)
            except httpx.TransportError as exc:
                answer.lost.append(type(exc).__name__)
            else:
                if response.status_code not in RETRYABLE:
                    answer.status, answer.answered = response.status_code, time.monotonic()
                    with contextlib.suppress(ValueError):
                        answer.body = response.json()
                    return answer
                answer.lost.append(str(response.status_code))
                with contextlib.suppress(ValueError):
                    wait = min(1.0, float(response.headers.get("retry-after", "1")))
            if time.monotonic() - answer.sent > self.give_up_after:
                return answer
            await asyncio.sleep(wait)

    def between(self, start: float, end: float) -> list[Answer]:
        return [a for a in self.answers if start <= a.sent < end]


# -- what the topics hold ------------------------------------------------------------------------


Copy = tuple[int, int, str, str]  # partition, offset, ce_sequence, digest of key, value and ce_* headers


def content_digest(key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]) -> str:
    """What makes two messages the same event: key, value and CloudEvents attributes (not the
    trace context, which a republish renews)."""
    h = hashlib.sha256()
    for part in (
        key or b"",
        value or b"",
        *(k.encode() + b"=" + v for k, v in sorted(headers) if k.startswith("ce_")),
    ):
        h.update(len(part).to_bytes(8, "big") + part)
    return h.hexdigest()[:16]


@dataclass
class Tally:
    """How often each CloudEvents id occurs on a topic, and where (partition, offset, sequence,
    content digest)."""

    ids: Counter[str] = field(default_factory=Counter)
    where: dict[str, list[Copy]] = field(default_factory=dict)

    def add(
        self,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]],
    ) -> None:
        h = header_map(headers)
        ce_id = h.get("ce_id", "")
        self.ids[ce_id] += 1
        copy = (partition, offset, h.get("ce_sequence", ""), content_digest(key, value, headers))
        self.where.setdefault(ce_id, []).append(copy)

    def duplicates(self) -> dict[str, list[Copy]]:
        """Every ce_id on the topic more than once."""
        return {ce_id: self.where[ce_id] for ce_id, n in self.ids.items() if n > 1}

    def republished(self) -> dict[str, list[Copy]]:
        """Ids whose copies are one event published again (same partition, sequence and content):
        the at-least-once tail of ADR 0003, which consumers drop by sequence (partners by id)."""
        return {
            ce_id: copies
            for ce_id, copies in self.duplicates().items()
            if len({(partition, sequence, digest) for partition, _, sequence, digest in copies}) == 1
        }

    def conflicting(self) -> dict[str, list[Copy]]:
        """Ids carried by different messages (another partition, sequence or content): two events
        under one id, or one event published as two. Always a fault."""
        again = self.republished()
        return {ce_id: copies for ce_id, copies in self.duplicates().items() if ce_id not in again}


class Tallies:
    """Every message of some topics, read from the beginning by one consumer (assigned, no group)
    and then on from where the last read stopped; after a failed read the next one starts on a
    fresh consumer from the offsets reached."""

    def __init__(self, bootstrap: str, topics: Mapping[str, str], partitions: int) -> None:
        self.bootstrap = bootstrap
        self.names = {topic: name for name, topic in topics.items()}
        self.tally = {name: Tally() for name in topics}
        self.partitions = [TopicPartition(t, p) for t in topics.values() for p in range(partitions)]
        self.offsets: dict[TopicPartition, int] = {}
        self._consumer: AIOKafkaConsumer | None = None

    def __getitem__(self, name: str) -> Tally:
        return self.tally[name]

    async def refresh(self, timeout: float = 20.0) -> None:
        try:
            await asyncio.wait_for(self._read_to_end(), timeout)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _read_to_end(self) -> None:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap,
                client_id="chaos-tally",
                group_id=None,
                enable_auto_commit=False,
                request_timeout_ms=10_000,
            )
            await consumer.start()
            self._consumer = consumer
            consumer.assign(self.partitions)
            for tp in self.partitions:
                consumer.seek(tp, self.offsets.get(tp, 0))
        consumer = self._consumer
        ends = await consumer.end_offsets(self.partitions)
        pending = [tp for tp in self.partitions if self.offsets.get(tp, 0) < ends[tp]]
        while pending:
            polled = await consumer.getmany(*pending, timeout_ms=500, max_records=10_000)
            for tp, messages in polled.items():
                tally = self.tally[self.names[tp.topic]]
                for m in messages:
                    tally.add(tp.partition, m.offset, m.key, m.value, m.headers or [])
                    self.offsets[tp] = m.offset + 1
            pending = [tp for tp in pending if self.offsets.get(tp, 0) < ends[tp]]


# -- the stores ----------------------------------------------------------------------------------

Head = tuple[int, int]  # (tx_id, position): the stores' read order

# Rows of transactions older than every one still running: read in (tx_id, position) order, so an
# incremental read never skips a row that commits later (the store's own read_all does the same).
_NEW_EVENTS = (
    "SELECT event_id, stream_id, event_type, tx_id, position, data->>'cross_region', data->>'verified', "
    "COALESCE(data->>'partner_region', substr(data->>'issuer_region', 1, 2) || '0000') FROM events "
    "WHERE (tx_id, position) > (:tx, :pos) {horizon} ORDER BY tx_id, position"
)
_HORIZON = "AND tx_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint"


@dataclass(frozen=True)
class StoredEvent:
    event_id: str
    stream_id: str
    event_type: str
    at: Head
    cross_region: bool
    verified: bool
    partner: str | None


class Stores:
    """The services' stores in the chaos database, read incrementally (short connections, pinged
    before use: the server is stopped and started under them)."""

    def __init__(self, database_url: str, services: Sequence[str]) -> None:
        self.dbs: dict[str, Database] = {
            s: open_database(database_url, s, pool_size=2, pool_pre_ping=True) for s in services
        }
        self.events: dict[str, list[StoredEvent]] = {s: [] for s in services}

    async def close(self) -> None:
        for db in self.dbs.values():
            await db.dispose()

    async def _rows(self, service: str, sql: str, **params: Any) -> list[Any]:
        async with self.dbs[service].engine.connect() as conn:
            return list((await conn.execute(text(sql), params)).all())

    async def read(self, *, horizon: bool = True) -> dict[str, Head | None]:
        """Every service's events recorded since the last read; returns the heads read so far.
        Without the `horizon`, rows a later read could have to insert before are read too."""
        sql = _NEW_EVENTS.format(horizon=_HORIZON if horizon else "")
        for service, known in self.events.items():
            tx, pos = known[-1].at if known else (0, 0)
            for r in await self._rows(service, sql, tx=tx, pos=pos):
                at = (int(r[3]), int(r[4]))
                known.append(StoredEvent(r[0], r[1], r[2], at, r[5] == "true", r[6] == "true", r[7]))
        return {s: known[-1].at if known else None for s, known in self.events.items()}

    async def reread(self) -> None:
        """Everything committed, again from the start (for the checks at the end)."""
        for known in self.events.values():
            known.clear()
        await self.read(horizon=False)

    async def events_per_stream(self, service: str, streams: Sequence[str]) -> Counter[str]:
        """How many events each stream has, committed right now (no snapshot horizon)."""
        rows = await self._rows(
            service,
            "SELECT stream_id, count(*) FROM events WHERE stream_id = ANY(:streams) GROUP BY stream_id",
            streams=list(streams),
        )
        return Counter({r[0]: int(r[1]) for r in rows})

    def upto(self, service: str, head: Head | None) -> list[StoredEvent]:
        return [e for e in self.events[service] if head is not None and e.at <= head]

    async def relayed(self) -> dict[str, Head | None]:
        """How far each service's relay published (its checkpoint)."""
        out: dict[str, Head | None] = {}
        for s in self.dbs:
            rows = await self._rows(s, "SELECT tx_id, position FROM checkpoints WHERE name = 'relay|kafka'")
            out[s] = (int(rows[0][0]), int(rows[0][1])) if rows else None
        return out

    async def leader_locks(self) -> Counter[str]:
        """Advisory locks held on the server, per service: one per job a worker leads (relay,
        projections, partner streams, ...), taken on a connection of that service's pool."""
        rows = await self._rows(
            next(iter(self.dbs)),
            "SELECT a.application_name, count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted GROUP BY a.application_name",
        )
        return Counter({str(r[0]).removeprefix("onecard-"): int(r[1]) for r in rows})


# -- recovery ------------------------------------------------------------------------------------


@dataclass
class Recovery:
    """One fault and how the platform came back from it (seconds; None: not within the bound)."""

    fault: str
    down_s: float = 0.0
    ready_s: float | None = None
    api_s: float | None = None
    caught_up_s: float | None = None
    api_by_service: dict[str, float | None] = field(default_factory=dict)
    lost_answers: int = 0  # tries of the load's verifications that got no answer during the fault
    slowest_s: float = 0.0  # the longest a verification sent during the fault took to be answered
    locks: tuple[int, int] | None = None  # leader locks held (before the faults, after recovery)
    new_duplicates: dict[str, int] = field(default_factory=dict)  # topic -> ce_ids republished since

    def row(self) -> str:
        dups = ", ".join(f"{t} {n}" for t, n in self.new_duplicates.items() if n) or "0"
        locks = "—" if self.locks is None else f"{self.locks[1]}/{self.locks[0]}"
        return (
            f"| {self.fault} | {self.down_s:.1f} | {_s(self.ready_s)} | {_s(self.api_s)} | "
            f"{_s(self.caught_up_s)} | {self.lost_answers} | {self.slowest_s:.1f} | {locks} | {dups} |"
        )


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def table(recoveries: Sequence[Recovery]) -> str:
    head = (
        "| fault | down s | fault end → ready s | → API 2xx s | → caught up s | lost answers | "
        "slowest answer s | leader locks after/before | ce_id republished |"
    )
    return "\n".join(
        [head, "| --- | --- | --- | --- | --- | --- | --- | --- | --- |", *(r.row() for r in recoveries)]
    )


async def until(
    check: Callable[[], Awaitable[bool]], since: float, timeout: float, interval: float = 0.2
) -> float | None:
    """Seconds from `since` (monotonic) until `check` first holds; None if not within `timeout`.
    A check that raises counts as not holding (the platform is still coming back)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if await check():
                return time.monotonic() - since
        except Exception:
            pass
        if time.monotonic() > deadline:
            return None
        await asyncio.sleep(interval)

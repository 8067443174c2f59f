"""The chaos suite (issue 12): the platform survives faults by itself, under a steady load.

The five services run as `onecard serve` processes on a PostgreSQL server and a Kafka broker of
this suite's own (`deploy/local/{postgres,kafka}.sh` on a private state directory and ports), so
that stopping them disturbs no other test. A venue verifies cards the whole time (25 a second:
local cards, Sichuan cards, unknown cards), each with an Idempotency-Key, retrying with the same
key whenever an answer is lost. One after the other:

- every service is SIGKILLed and started again at once (what an orchestrator does);
- the Kafka broker is stopped for longer than the clients' request timeout, then started;
- PostgreSQL is stopped for a few seconds, then started.

Nothing is restarted by hand for the server outages. After each fault the suite measures how long
until the affected processes are ready, answer 2xx, and the relays and consumers have caught up
with what was recorded before the fault ended; then it checks what happened so far. At the end,
with the load stopped, it checks everything:

- every answered verification has exactly one event in identity's store, and no event is there
  that the venue was not told about;
- every service's topic holds each of its store's events, and no CloudEvents id twice;
- the Sichuan outbound topic holds every cross-region verification, once;
- reporting's cross-region figures equal a count from scratch over identity's store;
- the workers' leader locks are held again after every fault;
- recovery times are within their bounds.

The recovery table is printed and written to `<state>/chaos-recovery.md` (the state directory,
with the servers' and services' logs, is named in the output).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from onecard_events.kafka import partner_outbound_topic, service_topic

from tests.support import people
from tests.support.chaos import (
    Copy,
    Head,
    OwnServers,
    Recovery,
    Stores,
    Tallies,
    VenueLoad,
    servers_missing,
    table,
    until,
)
from tests.support.platform import ALL_SERVICES, admin_headers
from tests.support.processes import ChildProcess, ServiceGroup, distributed_env, run_onecard
from tests.support.public_api import Place, place_with_merchant, program_for
from tests.support.public_api import ok as _ok
from tests.support.servers import missing
from tests.support.waiting import eventually

# Recovery times against bounds: .ci/run runs this with the machine to itself.
pytestmark = pytest.mark.alone

SERVICES = ALL_SERVICES
ADMIN_TOKEN = "chaos-admin-token-0123456789"
PARTNER = "510000"
JURISDICTION = "500106"
ITEM = f"{JURISDICTION}:X{uuid.uuid4().int % 1000}"
VENUE, TERMINAL = "v-chaos-1", "t1"
PLACE = Place(ITEM, VENUE, TERMINAL, JURISDICTION, "混沌")
PARTITIONS = 2

LOAD_RATE = 25.0  # verifications per second
WARM_UP_S = 3.0
KAFKA_DOWN_S = 65.0  # from `kafka.sh stop` to `kafka.sh start`: longer than aiokafka's 40 s request timeout
PG_DOWN_S = 7.0
# Bounds, from the end of a fault (for a SIGKILL: the kill; the process is started again at once).
READY_BOUND_S = 30.0  # the restarted process (after a server outage: every process) answers /readyz 200
API_BOUND_S = 30.0  # the affected services answer 2xx
CAUGHT_UP_BOUND_S = 60.0  # relays and consumers have caught up with what was recorded before
# The faults must be over by then (pytest-timeout cannot interrupt an asyncio test reliably).
FAULTS_DEADLINE_S = 420.0


# -- servers and platform ------------------------------------------------------------------------


@contextlib.contextmanager
def quiet(*loggers: str) -> Iterator[None]:
    """No line per request of the load, nor per reconnect of the suite's consumer, in the output."""
    levels = {name: logging.getLogger(name).level for name in loggers}
    for name in loggers:
        logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


@pytest.fixture(scope="module")
async def own_servers(request: pytest.FixtureRequest) -> AsyncIterator[OwnServers]:
    if reason := servers_missing():
        missing(reason)
    # Under /tmp, not pytest's 0700 tmp dirs: the postgres OS user must reach the data dir.
    servers = OwnServers.allocate(Path(tempfile.mkdtemp(prefix="onecard-chaos-")))
    failed_before = request.session.testsfailed
    try:
        await servers.start()
        yield servers
    finally:
        await servers.stop()
        if request.session.testsfailed == failed_before:
            servers.discard_data()  # the logs and the recovery table stay


@dataclass
class World:
    venue_auth: dict[str, str]
    bodies: dict[str, list[dict[str, Any]]]
    payer: dict[str, str]
    merchant_id: str
    program_id: str


@dataclass
class Chaos:
    servers: OwnServers
    group: ServiceGroup
    world: World
    stores: Stores
    started: float

    @property
    def prefix(self) -> str:
        return self.group.env["ONECARD_TOPIC_PREFIX"]


@pytest.fixture(scope="module")
async def chaos(own_servers: OwnServers) -> AsyncIterator[Chaos]:
    started = time.monotonic()
    env = await distributed_env(
        own_servers.pg_url,
        own_servers.kafka_bootstrap,
        database_prefix="chaos",
        topic_prefix="chaos.",
        partitions=PARTITIONS,
        admin_token=ADMIN_TOKEN,
        private_key=True,
        ONECARD_PARTNERS=PARTNER,
    )
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    await run_onecard("migrate", env=env)  # as the chart's migrate hook does, before any pod starts
    logs = own_servers.state / "logs"
    logs.mkdir(exist_ok=True)
    group = ServiceGroup.serve(SERVICES, env, logs=logs, migrate=False, host="127.0.0.1")
    stores = Stores(env["ONECARD_DATABASE_URL"], SERVICES)
    try:
        with quiet("httpx", "aiokafka"):
            await group.start(timeout=120)
            world = await build_world(group)
            yield Chaos(own_servers, group, world, stores, started)
    finally:
        group.stop()
        await stores.close()


def _physical(card: dict[str, str]) -> dict[str, Any]:
    return {"venue_id": VENUE, "terminal_id": TERMINAL, "method": "physical", "card": card}


async def build_world(group: ServiceGroup) -> World:
    """Through the public APIs: an item, a venue with a terminal, a merchant in the e-card
    agreement, a venue client, registered cards and a disbursement program."""
    catalog, identity = group.base("catalog"), group.base("identity")
    async with httpx.AsyncClient(headers=admin_headers(ADMIN_TOKEN), timeout=30) as c:
        merchant_id = await place_with_merchant(c, catalog, PLACE)
        gate = {"role": "venue", "name": "chaos gate", "venues": [VENUE]}
        client = _ok(await c.post(f"{catalog}/catalog/v1/clients", json=gate), 201)
        venue_auth = {"Authorization": f"Bearer {client['token']}"}

        local = [people.card(serial, JURISDICTION, prefix="C") for serial in range(40)]
        for card in local:
            _ok(await c.post(f"{identity}/identity/v1/cards", json=card), 201)
        sichuan = [
            {
                "card_no": people.card_no(serial, "S"),
                "ssn": people.ssn(serial, "510104"),
                "name": "李四",
                "issuer_region": "510100",
            }
            for serial in range(20)
        ]
        unknown = [people.card(serial, JURISDICTION, prefix="U") for serial in range(10)]
        bodies = {
            "local": [_physical(card) for card in local],
            "partner": [_physical(card) for card in sichuan],
            "unknown": [_physical(card) for card in unknown],
        }

        async def verified(kind: str) -> bool:
            r = await c.post(
                f"{identity}/identity/v1/verifications", json=bodies[kind][0], headers=venue_auth
            )
            body = r.json()
            return r.status_code == 200 and body["verified"] and body["cross_region"] == (kind == "partner")

        # Sent without a key before the load starts: not in its ledger (the checks leave them out).
        await eventually(
            lambda: verified("local"), timeout=60, interval=0.25, what="identity learns of the venue"
        )
        assert await verified("partner")

        program_id = await program_for(c, group.base("disbursement"), PLACE)
    world = World(venue_auth, bodies, local[0], merchant_id, program_id)
    probes = Probes(group, world, None)
    try:
        await eventually(
            lambda: probes.ok("payments"), timeout=60, interval=0.25, what="payments takes a payment"
        )
    finally:
        await probes.close()
    return world


# -- probes: is a service answering 2xx? -------------------------------------------------------


class Probes:
    """One request per service that needs its database; identity's is a verification of the
    venue's load (in its ledger), payments' a card payment of a new bill, disbursement's a new batch."""

    def __init__(self, group: ServiceGroup, world: World, load: VenueLoad | None) -> None:
        self.group, self.world, self.load = group, world, load
        self.client = httpx.AsyncClient(
            headers=admin_headers(ADMIN_TOKEN),
            timeout=httpx.Timeout(5.0, connect=1.0),
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        self.bill: tuple[str, str] | None = None  # an open bill and the key its payment is tried with

    async def close(self) -> None:
        await self.client.aclose()

    async def ok(self, service: str) -> bool:
        base = self.group.base(service)
        if service == "identity":
            assert self.load is not None
            return (await self.load.verify("local")).status == 200
        if service == "catalog":
            return (await self.client.get(f"{base}/catalog/v1/venues")).status_code == 200
        if service == "reporting":
            return (await self.client.get(f"{base}/reporting/v1/cross-region")).status_code == 200
        if service == "disbursement":
            batch = {
                "batch_id": f"B-{uuid.uuid4().hex[:10]}",
                "program_id": self.world.program_id,
                "period": f"{datetime.now(UTC).year}-01",
                "control_count": 1,
                "control_total_fen": 10_000,
            }
            return (await self.client.post(f"{base}/disbursement/v1/batches", json=batch)).status_code == 201
        if self.bill is None:
            body = {
                "merchant_id": self.world.merchant_id,
                "bill_ref": uuid.uuid4().hex[:12],
                "amount_fen": 1200,
            }
            opened = await self.client.post(f"{base}/payments/v1/bills", json={**body, "description": "混沌"})
            if opened.status_code != 201:
                return False
            self.bill = (str(opened.json()["bill_id"]), uuid.uuid4().hex)
        bill_id, key = self.bill
        paid = await self.client.post(
            f"{base}/payments/v1/bills/{bill_id}/payments",
            json={"method": "card_account", "card": self.world.payer},
            headers={"Idempotency-Key": key},
        )
        if paid.status_code == 201 and paid.json()["status"] == "settled":
            self.bill = None
            return True
        return False


async def ready(process: ChildProcess) -> bool:
    process.check_alive()
    async with httpx.AsyncClient(timeout=2) as client:
        return (await client.get(process.url + process.ready_path)).status_code == 200


@dataclass
class Readiness:
    """Each service's /readyz, sampled every second the whole time; its changes are the evidence."""

    group: ServiceGroup
    since: float
    changes: list[str] = field(default_factory=list)
    _last: dict[str, str] = field(default_factory=dict)

    async def watch(self, stop: asyncio.Event) -> None:
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=2, limits=limits) as client:
            while not stop.is_set():
                for name, process in self.group.processes.items():
                    try:
                        r = await client.get(process.url + process.ready_path)
                        state = f"{r.status_code} {r.text[:120]}"
                    except httpx.TransportError as exc:
                        state = type(exc).__name__
                    if self._last.get(name) != state:
                        self._last[name] = state
                        self.changes.append(f"t+{time.monotonic() - self.since:6.1f}s {name}: {state}")
                await _sleep_or(stop, 1.0)


async def _sleep_or(stop: asyncio.Event, seconds: float) -> None:
    waiting = asyncio.ensure_future(stop.wait())
    await asyncio.wait({waiting}, timeout=seconds)
    waiting.cancel()


# -- the checks ----------------------------------------------------------------------------------


class Checks:
    def __init__(self, chaos: Chaos, load: VenueLoad, probes: Probes, deadline: float) -> None:
        self.chaos, self.load, self.probes, self.deadline = chaos, load, probes, deadline
        self.stores = chaos.stores
        bootstrap = chaos.servers.kafka_bootstrap
        topics = {s: service_topic(s, chaos.prefix) for s in SERVICES}
        self.topics = Tallies(
            bootstrap, {**topics, "partner": partner_outbound_topic(PARTNER, chaos.prefix)}, PARTITIONS
        )
        self.problems: list[str] = []
        self.progress: list[str] = []
        self.locks_baseline: Counter[str] = Counter()
        self._duplicates_seen: dict[str, int] = {}
        self._conflicts_seen: dict[str, int] = {}
        self.before: set[str] = set()  # the set-up's verifications (sent without a key, before the load)

    def note(self, line: str) -> None:
        self.progress.append(f"{time.strftime('%H:%M:%S')} {line}")
        with (self.chaos.servers.state / "progress.log").open("a") as out:
            out.write(self.progress[-1] + "\n")

    def left(self, bound: float) -> float:
        return max(1.0, min(bound, self.deadline - time.monotonic()))

    async def reporting_inbound(self) -> int:
        r = await self.probes.client.get(
            f"{self.chaos.group.base('reporting')}/reporting/v1/cross-region", params={"partner": PARTNER}
        )
        r.raise_for_status()
        return sum(int(row["inbound"]) for row in r.json()["rows"])

    async def caught_up(self, heads: dict[str, Head | None]) -> bool:
        """Every relay published its store up to `heads`; identity's events up to there are on its
        topic, its cross-region ones on the partner topic, and reporting counts them."""
        relayed = await self.stores.relayed()
        for service, head in heads.items():
            done = relayed[service]
            if head is not None and (done is None or done < head):
                return False
        before = self.stores.upto("identity", heads["identity"])
        await self.topics.refresh()
        if any(e.event_id not in self.topics["identity"].ids for e in before):
            return False
        cross = [e for e in before if e.cross_region and e.partner == PARTNER]
        if any(e.event_id not in self.topics["partner"].ids for e in cross):
            return False
        return await self.reporting_inbound() >= sum(e.verified for e in cross)

    async def so_far(self, fault: str, heads: dict[str, Head | None], recovery: Recovery) -> None:
        """After a fault: what was recorded before its end is on the topics; every answer the venue
        got so far has exactly one event; no new CloudEvents id twice."""
        answered = [a for a in self.load.answers if a.ok]  # each of them committed before its answer
        await self.topics.refresh()
        await self.stores.read()
        for service in SERVICES:
            absent = [
                e.event_id
                for e in self.stores.upto(service, heads[service])
                if e.event_id not in self.topics[service].ids
            ]
            if absent:
                self.problems.append(
                    f"{fault}: {len(absent)} {service} events not on its topic: {absent[:3]}"
                )
        for name, tally in self.topics.tally.items():
            twice = tally.republished()
            recovery.new_duplicates[name] = len(twice) - self._duplicates_seen.get(name, 0)
            self._duplicates_seen[name] = len(twice)
            conflicting = tally.conflicting()
            if len(conflicting) > self._conflicts_seen.get(
                name, 0
            ):  # reported once, at the fault it came with
                self.problems.append(f"{fault}: {_conflicts(name, conflicting)}")
            self._conflicts_seen[name] = len(conflicting)
        streams = [f"verification-{a.verification_id}" for a in answered]
        per_stream = await self.stores.events_per_stream("identity", streams)
        wrong = [(stream, per_stream[stream]) for stream in streams if per_stream[stream] != 1]
        if wrong:
            self.problems.append(f"{fault}: answered verifications without exactly one event: {wrong[:5]}")

    async def locks_back(self, recovery: Recovery) -> None:
        """The workers lead their jobs again: every service holds as many leader locks as before."""
        held: list[Counter[str]] = []

        async def back() -> bool:
            held.append(await self.stores.leader_locks())
            return all(held[-1][s] >= n for s, n in self.locks_baseline.items())

        await until(back, time.monotonic(), self.left(10.0), interval=0.5)
        after = held[-1] if held else Counter()
        recovery.locks = (sum(self.locks_baseline.values()), sum(after.values()))
        if lost := {s: f"{after[s]}/{n}" for s, n in self.locks_baseline.items() if after[s] < n}:
            self.problems.append(
                f"{recovery.fault}: leader locks held after recovery / before, per service: {lost}: "
                "workers that kept running through the fault lead without their lock "
                "(onecard_events.leadership: the lock's connection died and nothing noticed)"
            )

    async def finally_(self) -> dict[str, Any]:
        """With the load stopped and the platform caught up: the exact checks."""
        figures: dict[str, Any] = {}
        answers = self.load.answers
        figures["verifications"] = len(answers)
        figures["answered 2xx"] = sum(a.ok for a in answers)
        figures["answers that needed a retry"] = sum(bool(a.lost) for a in answers)
        figures["tries without an answer"] = dict(Counter(reason for a in answers for reason in a.lost))
        if unanswered := [a for a in answers if a.status is None]:
            self.problems.append(
                f"{len(unanswered)} verifications never answered (sent at, tries, what they got): "
                f"{[(a.wall, a.tries, a.lost[-3:]) for a in unanswered[:5]]}"
            )
        if failed := Counter(a.status for a in answers if a.status is not None and not a.ok):
            samples = [a.body for a in answers if a.status is not None and not a.ok][:3]
            self.problems.append(f"verifications answered with an error: {dict(failed)} {samples}")

        await self.stores.reread()
        identity = self.stores.events["identity"]
        recorded = Counter(
            e.stream_id.removeprefix("verification-")
            for e in identity
            if e.stream_id.startswith("verification-")
        )
        told = Counter(str(a.verification_id) for a in answers if a.ok)
        figures["verification events"] = sum(recorded.values()) - len(self.before)
        if doubly_told := [v for v, n in told.items() if n > 1]:
            self.problems.append(f"two verifications were told the same id: {doubly_told[:5]}")
        twice = [v for v, n in recorded.items() if n > 1]
        never = sorted(set(told) - set(recorded))
        untold = sorted(set(recorded) - set(told) - self.before)
        if twice or never:
            self.problems.append(f"answered verifications recorded twice {twice[:5]} or never {never[:5]}")
        if untold:
            self.problems.append(f"{len(untold)} verifications recorded that no answer told of: {untold[:5]}")

        await self.topics.refresh()
        for service in SERVICES:
            stored = {e.event_id for e in self.stores.events[service]}
            on_topic = set(self.topics[service].ids)
            if stored != on_topic:
                self.problems.append(
                    f"{service} topic differs from its store: {len(stored - on_topic)} missing, "
                    f"{len(on_topic - stored)} unknown: {sorted(stored ^ on_topic)[:3]}"
                )
        cross = {e.event_id for e in identity if e.cross_region and e.partner == PARTNER}
        partner = set(self.topics["partner"].ids)
        if cross != partner:
            self.problems.append(
                f"partner topic: {len(cross - partner)} cross-region events missing, "
                f"{len(partner - cross)} unknown"
            )
        for name, tally in self.topics.tally.items():
            # A copy of the same event (same partition, sequence and content) is the at-least-once
            # tail of ADR 0003: published again when a fault hit between the broker's ack and the
            # checkpoint; consumers drop it. Different messages under one id are a fault.
            figures[f"republished copies on the {name} topic"] = sum(
                len(copies) - 1 for copies in tally.republished().values()
            )
            if conflicting := tally.conflicting():
                self.problems.append(_conflicts(name, conflicting))
        figures["messages on the identity topic"] = sum(self.topics["identity"].ids.values())
        figures["cross-region events"] = len(cross)
        figures["messages on the partner topic"] = sum(self.topics["partner"].ids.values())
        from_scratch = sum(1 for e in identity if e.cross_region and e.partner == PARTNER and e.verified)
        figures["reporting: inbound Sichuan uses"] = inbound = await self.reporting_inbound()
        figures["identity's store: verified Sichuan verifications"] = from_scratch
        if inbound != from_scratch:
            self.problems.append(
                f"reporting counts {inbound} inbound Sichuan uses; identity's store has {from_scratch}"
            )
        return figures


def _conflicts(topic: str, conflicting: dict[str, list[Copy]]) -> str:
    sample = dict(list(conflicting.items())[:3])
    return (
        f"{len(conflicting)} CloudEvents ids on differing messages of the {topic} topic "
        f"(partition, offset, sequence, content digest): {sample}"
    )


# -- the faults ----------------------------------------------------------------------------------


async def recover(
    checks: Checks, recovery: Recovery, began: float, ended: float, services: tuple[str, ...]
) -> None:
    """Measure from `ended` (the end of the fault) until ready, answering and caught up; then check."""
    group = checks.chaos.group
    # What was recorded before the fault ended, read beside the probes: after a database restart
    # the suite's own read can take a while, which is not the platform's recovery time.
    reading = asyncio.ensure_future(checks.stores.read())
    ready_by_service: dict[str, float | None] = {}

    async def ready_again(service: str) -> None:
        ready_by_service[service] = await until(
            lambda: ready(group[service]), ended, checks.left(READY_BOUND_S + 2), interval=0.1
        )

    async def answering(service: str) -> None:
        recovery.api_by_service[service] = await until(
            lambda: checks.probes.ok(service), ended, checks.left(API_BOUND_S + 2)
        )

    async def caught_up() -> None:
        recovery.caught_up_s = await until(
            lambda: checks.caught_up(heads), ended, checks.left(CAUGHT_UP_BOUND_S + 2), interval=0.5
        )

    heads: dict[str, Head | None] = {}

    async def read_then_caught_up() -> None:
        heads.update(await reading)
        checks.note(f"{recovery.fault}: heads read {time.monotonic() - ended:.1f} s after the fault ended")
        await caught_up()

    # Side by side: a process that never reports ready again must not delay the other figures.
    await asyncio.gather(
        *(ready_again(s) for s in services), *(answering(s) for s in services), read_then_caught_up()
    )
    recovery.ready_s = _slowest(ready_by_service)
    recovery.api_s = _slowest(recovery.api_by_service)
    if recovery.ready_s is None or recovery.ready_s > READY_BOUND_S:
        checks.problems.append(f"{recovery.fault}: ready again per service: {_rounded(ready_by_service)}")
    for what, value, bound in (
        ("ready", recovery.ready_s, READY_BOUND_S),
        ("answering 2xx", recovery.api_s, API_BOUND_S),
        ("caught up", recovery.caught_up_s, CAUGHT_UP_BOUND_S),
    ):
        if value is None or value > bound:
            checks.problems.append(f"{recovery.fault}: not {what} within {bound:.0f} s (took {_s(value)})")
    if recovery.api_s is None or recovery.api_s > API_BOUND_S:
        checks.problems.append(
            f"{recovery.fault}: answering 2xx per service: {_rounded(recovery.api_by_service)}"
        )
    touched = [a for a in checks.load.answers if a.sent < time.monotonic() and (a.answered or began) >= began]
    recovery.lost_answers = sum(len(a.lost) for a in touched)
    recovery.slowest_s = max(((a.answered or time.monotonic()) - a.sent for a in touched), default=0.0)
    await checks.so_far(recovery.fault, heads, recovery)
    await checks.locks_back(recovery)
    checks.note(recovery.row())


def _s(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _slowest(times: dict[str, float | None]) -> float | None:
    """The last service's time, or None when one of them never made it."""
    known = [t for t in times.values() if t is not None]
    return max(known) if known and len(known) == len(times) else None


def _rounded(times: dict[str, float | None]) -> dict[str, str]:
    return {service: _s(t) for service, t in times.items()}


async def kill_and_restart(checks: Checks, service: str) -> Recovery:
    process = checks.chaos.group[service]
    recovery = Recovery(f"SIGKILL {service}")
    killed = time.monotonic()
    process.kill()
    process.launch()  # the orchestrator starts it again at once
    await recover(checks, recovery, killed, killed, (service,))
    return recovery


def _pids(group: ServiceGroup) -> dict[str, int | None]:
    return {name: p.process.pid if p.process else None for name, p in group.processes.items()}


async def server_outage(checks: Checks, server: str, name: str, down: float) -> Recovery:
    """`<server>.sh stop`, `down` seconds after the stop began `<server>.sh start`; the services are
    left alone."""
    group, servers = checks.chaos.group, checks.chaos.servers
    pids = _pids(group)
    await checks.topics.close()  # the suite's own consumer stays away while the broker is down
    began = time.monotonic()
    await servers.run(server, "stop")
    await asyncio.sleep(max(0.0, began + down - time.monotonic()))
    await servers.run(server, "start")
    ended = time.monotonic()
    recovery = Recovery(name, down_s=ended - began)
    await recover(checks, recovery, began, ended, SERVICES)
    if _pids(group) != pids:
        checks.problems.append(f"{name}: a service process was replaced: {pids} -> {_pids(group)}")
    try:
        group.check_alive()
    except RuntimeError as exc:
        checks.problems.append(f"{name}: a service died: {exc}")
    return recovery


Fault = Callable[[Checks], Awaitable[Recovery]]


def _kill(service: str) -> Fault:
    return lambda checks: kill_and_restart(checks, service)


def _outage(server: str, name: str, down: float) -> Fault:
    return lambda checks: server_outage(checks, server, name, down)


FAULTS: list[tuple[str, Fault]] = [
    *((f"SIGKILL {s}", _kill(s)) for s in SERVICES),
    ("Kafka stop/start", _outage("kafka", "Kafka stop/start", KAFKA_DOWN_S)),
    ("PostgreSQL stop/start", _outage("postgres", "PostgreSQL stop/start", PG_DOWN_S)),
]


# -- the test ------------------------------------------------------------------------------------


@pytest.mark.timeout(600)
async def test_the_platform_heals_itself_under_load(chaos: Chaos) -> None:
    load = VenueLoad(chaos.group.base("identity"), chaos.world.venue_auth, chaos.world.bodies, rate=LOAD_RATE)
    probes = Probes(chaos.group, chaos.world, load)
    began = time.monotonic()
    checks = Checks(chaos, load, probes, deadline=began + FAULTS_DEADLINE_S)
    await chaos.stores.read()
    checks.before = {
        e.stream_id.removeprefix("verification-")
        for e in chaos.stores.events["identity"]
        if e.stream_id.startswith("verification-")
    }
    readiness = Readiness(chaos.group, began)
    stop_watching = asyncio.Event()
    watcher = asyncio.create_task(readiness.watch(stop_watching))
    recoveries: list[Recovery] = []
    figures: dict[str, Any] = {}
    load.start()
    try:
        await asyncio.sleep(WARM_UP_S)
        checks.locks_baseline = await chaos.stores.leader_locks()
        checks.note(f"load running; leader locks held: {dict(checks.locks_baseline)}")
        for name, fault in FAULTS:
            if time.monotonic() > checks.deadline:
                checks.problems.append(f"out of time: {name} and the faults after it were not injected")
                break
            recoveries.append(await fault(checks))
    finally:
        await load.stop(drain=30)
        load_s = time.monotonic() - began
        try:
            heads = await chaos.stores.read()
            if await until(lambda: checks.caught_up(heads), time.monotonic(), 60, interval=0.5) is None:
                checks.problems.append("the platform did not catch up with the last events within 60 s")
            figures = await checks.finally_()
        finally:
            stop_watching.set()
            await watcher
            await probes.close()
            await checks.topics.close()
    figures["load s"] = round(load_s, 1)
    figures["module until now s"] = round(time.monotonic() - chaos.started, 1)
    report = _report(chaos, recoveries, figures, readiness, checks.problems)
    (chaos.servers.state / "chaos-recovery.md").write_text(report)
    print("\n" + report)
    assert not checks.problems, report


def _report(
    chaos: Chaos,
    recoveries: list[Recovery],
    figures: dict[str, Any],
    readiness: Readiness,
    problems: list[str],
) -> str:
    lines = [
        f"# Chaos suite: {len(recoveries)} faults under {LOAD_RATE:.0f} verifications/s",
        "",
        table(recoveries),
        "",
        "Answering 2xx again, per service (s): "
        + "; ".join(
            f"{r.fault}: " + ", ".join(f"{s} {_s(t)}" for s, t in r.api_by_service.items())
            for r in recoveries
            if len(r.api_by_service) > 1
        ),
        f"State and logs: {chaos.servers.state}",
        "",
        "```",
        json.dumps(figures, ensure_ascii=False, indent=1, default=str),
        "```",
        "",
        "/readyz changes:",
        *(f"  {c}" for c in readiness.changes),
    ]
    if problems:
        lines += ["", "PROBLEMS:", *(f"- {p}" for p in problems)]
    return "\n".join(lines) + "\n"

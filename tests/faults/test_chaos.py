"""The chaos suite (issue 12): the platform survives faults by itself, under a steady load.

The five services run as `onecard serve` processes on a PostgreSQL server and a Kafka broker of
this suite's own (`deploy/local/{postgres,kafka}.sh` on a private state directory and ports), so
that stopping them disturbs no other test. A venue verifies cards the whole time (about 25 a
second, local and Sichuan cards, some refused), each with an Idempotency-Key, retrying with the
same key whenever an answer is lost. One after the other:

- every service is SIGKILLed and started again at once (what an orchestrator does);
- the Kafka broker is stopped for longer than the clients' request timeout, then started;
- PostgreSQL is stopped for a few seconds, then started.

Nothing is restarted by hand for the server outages. After each fault the suite waits until the
platform answers again and the relays and consumers have caught up with what was recorded before,
then checks what happened so far; at the end, with the load stopped, it checks everything:

- every answered verification has exactly one event in identity's store, and no event is there
  that the venue was not told about;
- every service's topic holds each of its store's events once (no CloudEvents id twice);
- the Sichuan outbound topic holds every cross-region verification once;
- reporting's cross-region figures equal a count from scratch over identity's store;
- recovery times are within their bounds.

The recovery table is printed and written to `<state>/chaos-recovery.md` (the state directory is
named in the output; the services' logs are in `<state>/logs`).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from onecard_events.kafka import partner_outbound_topic, service_topic

from tests.support import people
from tests.support.chaos import (
    Head,
    OwnServers,
    Recovery,
    Stores,
    TopicTally,
    VenueLoad,
    servers_missing,
    table,
    until,
)
from tests.support.platform import ALL_SERVICES, admin_headers
from tests.support.processes import ChildProcess, ServiceGroup, distributed_env, run_onecard
from tests.support.servers import missing
from tests.support.waiting import eventually

SERVICES = ALL_SERVICES
ADMIN_TOKEN = "chaos-admin-token-0123456789"
PARTNER = "510000"
JURISDICTION = "500106"
ITEM = f"{JURISDICTION}:X{uuid.uuid4().int % 1000}"
VENUE, TERMINAL = "v-chaos-1", "t1"
PREFIX = "chaos."

LOAD_RATE = 25.0  # verifications per second
WARM_UP_S = 3.0
KAFKA_DOWN_S = 65.0  # longer than the clients' request timeout (aiokafka: 40 s)
PG_DOWN_S = 7.0
# Bounds, from the end of a fault (for a SIGKILL: the kill, as the process is started again at once).
READY_BOUND_S = 30.0  # the restarted process (or, after a server outage, every process) is ready
API_BOUND_S = 30.0  # the affected services answer 2xx
CAUGHT_UP_BOUND_S = 60.0  # relays and consumers have caught up with what was recorded before


# -- servers and platform ------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def own_servers(request: pytest.FixtureRequest) -> AsyncIterator[OwnServers]:
    if reason := servers_missing():
        missing(reason)
    state = Path(tempfile.mkdtemp(prefix="onecard-chaos-"))
    servers = OwnServers.allocate(state)
    failed_before = request.session.testsfailed
    try:
        await servers.start()
        yield servers
    finally:
        await servers.stop()
        if request.session.testsfailed == failed_before:
            servers.discard_data()  # logs and the recovery table stay


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
        topic_prefix=PREFIX,
        admin_token=ADMIN_TOKEN,
        private_key=True,
        ONECARD_PARTNERS=PARTNER,
    )
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    await run_onecard("migrate", env=env)  # as the chart's migrate hook does, before any pod
    logs = own_servers.state / "logs"
    logs.mkdir(exist_ok=True)
    group = ServiceGroup.serve(SERVICES, env, logs=logs, migrate=False, host="127.0.0.1")
    stores = Stores(env["ONECARD_DATABASE_URL"], SERVICES)
    try:
        await group.start(timeout=120)
        world = await build_world(group)
        yield Chaos(own_servers, group, world, stores, started)
    finally:
        group.stop()
        await stores.close()


def _ok(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in (statuses or (200, 201)), (
        f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
    )
    body: dict[str, Any] = response.json() if response.content else {}
    return body


def _physical(card: dict[str, str]) -> dict[str, Any]:
    return {"venue_id": VENUE, "terminal_id": TERMINAL, "method": "physical", "card": card}


async def build_world(group: ServiceGroup) -> World:
    """Through the public APIs: an item, a venue with a terminal, a merchant in the e-card
    agreement, a venue client, registered cards and a disbursement program."""
    catalog, identity = group.base("catalog"), group.base("identity")
    year = datetime.now(UTC).year
    async with httpx.AsyncClient(headers=admin_headers(ADMIN_TOKEN), timeout=30) as c:
        item = {
            "item_id": ITEM,
            "kind": "service",
            "name": "混沌验收事项",
            "department": "区大数据局",
            "card_forms": ["physical", "electronic"],
            "categories": ["identity", "payment", "disbursement"],
            "plan": {str(y): 3 for y in range(year - 1, year + 2)},
        }
        _ok(await c.post(f"{catalog}/catalog/v1/items", json=item), 201)
        venue = {"venue_id": VENUE, "name": "混沌图书馆", "jurisdiction": JURISDICTION, "item_id": ITEM}
        _ok(await c.post(f"{catalog}/catalog/v1/venues", json=venue), 201)
        terminal = {"terminal_id": TERMINAL, "card_forms": ["physical", "electronic"]}
        _ok(await c.post(f"{catalog}/catalog/v1/venues/{VENUE}/terminals", json=terminal), 201)
        merchant_id = f"m-chaos-{uuid.uuid4().hex[:6]}"
        merchant = {
            "merchant_id": merchant_id,
            "name": "混沌商户",
            "jurisdiction": JURISDICTION,
            "item_id": ITEM,
        }
        _ok(await c.post(f"{catalog}/catalog/v1/merchants", json=merchant), 201)
        _ok(await c.put(f"{catalog}/catalog/v1/merchants/{merchant_id}/ecard-agreement"))
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
            return (
                r.status_code == 200
                and bool(r.json()["verified"])
                and r.json()["cross_region"] == (kind == "partner")
            )

        # Not part of the ledger: these set-up verifications are sent without a key, before the load.
        await eventually(
            lambda: verified("local"), timeout=60, interval=0.25, what="identity learns of the venue"
        )
        assert await verified("partner")

        program_id = f"P-{uuid.uuid4().hex[:8]}"
        program = {
            "program_id": program_id,
            "item_id": ITEM,
            "name": "混沌补贴",
            "jurisdiction": JURISDICTION,
        }

        async def program_created() -> bool:
            r = await c.post(f"{group.base('disbursement')}/disbursement/v1/programs", json=program)
            assert r.status_code in (201, 422), r.text
            return r.status_code == 201

        await eventually(program_created, timeout=60, interval=0.25, what="disbursement learns of the item")
    world = World(venue_auth, bodies, local[0], merchant_id, program_id)
    probes = Probes(group, world, None)
    try:
        await eventually(
            lambda: probes.ok("payments"), timeout=60, interval=0.25, what="payments can take a payment"
        )
    finally:
        await probes.close()
    return world


# -- probes: is a service answering 2xx? -------------------------------------------------------


class Probes:
    """One cheap request per service that needs its database (and, for identity, a verification
    of the venue's load, so it is in the ledger too)."""

    def __init__(self, group: ServiceGroup, world: World, load: VenueLoad | None) -> None:
        self.group, self.world, self.load = group, world, load
        self.client = httpx.AsyncClient(
            headers=admin_headers(ADMIN_TOKEN), timeout=httpx.Timeout(5.0, connect=1.0)
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

    async def all_ok(self, services: tuple[str, ...]) -> bool:
        for service in services:
            if not await self.ok(service):
                return False
        return True


async def ready(process: ChildProcess) -> bool:
    process.check_alive()
    async with httpx.AsyncClient(timeout=2) as client:
        return (await client.get(process.url + process.ready_path)).status_code == 200


# -- readiness over time -----------------------------------------------------------------------


@dataclass
class Readiness:
    """Each service's /readyz, sampled every second; the changes are kept (evidence)."""

    group: ServiceGroup
    since: float
    changes: list[str] = field(default_factory=list)
    _last: dict[str, str] = field(default_factory=dict)

    async def watch(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=2) as client:
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
                with_timeout = asyncio.ensure_future(stop.wait())
                await asyncio.wait({with_timeout}, timeout=1.0)
                with_timeout.cancel()


# -- the checks ----------------------------------------------------------------------------------


class Checks:
    def __init__(self, chaos: Chaos, load: VenueLoad, probes: Probes, before: set[str]) -> None:
        self.chaos, self.load, self.probes = chaos, load, probes
        self.before = before  # the verifications of the set-up (sent without a key, before the load)
        self.stores = chaos.stores
        bootstrap = chaos.servers.kafka_bootstrap
        self.topics = {s: TopicTally(bootstrap, service_topic(s, chaos.prefix)) for s in SERVICES}
        self.partner = TopicTally(bootstrap, partner_outbound_topic(PARTNER, chaos.prefix))
        self.problems: list[str] = []
        self._duplicates_seen: dict[str, int] = {}

    async def refresh_topics(self) -> None:
        for tally in (*self.topics.values(), self.partner):
            await tally.refresh()

    async def reporting_inbound(self) -> int:
        r = await self.probes.client.get(
            f"{self.chaos.group.base('reporting')}/reporting/v1/cross-region", params={"partner": PARTNER}
        )
        r.raise_for_status()
        return sum(int(row["inbound"]) for row in r.json()["rows"])

    async def caught_up(self, heads: dict[str, Head | None]) -> bool:
        """Every relay published its store up to `heads`; identity's events up to there are on its
        topic, the cross-region ones on the partner topic, and counted by reporting."""
        relayed = await self.stores.relayed()
        for service, head in heads.items():
            done = relayed[service]
            if head is not None and (done is None or done < head):
                return False
        head = heads["identity"]
        before = [e for e in await self.stores.events("identity") if head is not None and e.at <= head]
        await self.topics["identity"].refresh()
        if any(e.event_id not in self.topics["identity"].ids for e in before):
            return False
        cross = [e for e in before if e.cross_region and e.partner == PARTNER]
        await self.partner.refresh()
        if any(e.event_id not in self.partner.ids for e in cross):
            return False
        return await self.reporting_inbound() >= sum(e.verified for e in cross)

    async def so_far(self, fault: str, heads: dict[str, Head | None], recovery: Recovery) -> None:
        """After a fault, once caught up: what was recorded before it is on the topics, once; every
        answer the venue got so far has exactly one event."""
        await self.refresh_topics()
        for service in SERVICES:
            head = heads[service]
            stored = [e for e in await self.stores.events(service) if head is not None and e.at <= head]
            absent = [e.event_id for e in stored if e.event_id not in self.topics[service].ids]
            if absent:
                self.problems.append(
                    f"{fault}: {len(absent)} {service} events not on its topic: {absent[:5]}"
                )
        for name, tally in (*((s, self.topics[s]) for s in SERVICES), ("partner", self.partner)):
            twice = tally.duplicates()
            recovery.new_duplicates[name] = len(twice) - self._duplicates_seen.get(name, 0)
            self._duplicates_seen[name] = len(twice)
        answered = [a for a in self.load.answers if a.ok]
        per_stream = Counter(e.stream_id for e in await self.stores.events("identity"))
        wrong = [
            (a.verification_id, per_stream[f"verification-{a.verification_id}"])
            for a in answered
            if per_stream[f"verification-{a.verification_id}"] != 1
        ]
        if wrong:
            self.problems.append(f"{fault}: answered verifications without exactly one event: {wrong[:5]}")

    async def finally_(self) -> dict[str, Any]:
        """With the load stopped and everything caught up: the exact checks."""
        figures: dict[str, Any] = {}
        answers = self.load.answers
        unanswered = [a for a in answers if a.status is None]
        failed = Counter(a.status for a in answers if a.status is not None and not a.ok)
        figures["verifications"] = len(answers)
        figures["answered 2xx"] = sum(a.ok for a in answers)
        figures["tries without an answer"] = Counter(reason for a in answers for reason in a.lost)
        figures["answers needing a retry"] = sum(bool(a.lost) for a in answers)
        if unanswered:
            self.problems.append(
                f"{len(unanswered)} verifications never answered: {[a.lost[-3:] for a in unanswered[:5]]}"
            )
        if failed:
            samples = [a.body for a in answers if a.status is not None and not a.ok][:3]
            self.problems.append(f"verifications answered with an error: {dict(failed)} {samples}")

        identity = await self.stores.events("identity")
        recorded = Counter(
            e.stream_id.removeprefix("verification-")
            for e in identity
            if e.stream_id.startswith("verification-")
        )
        told = Counter(a.verification_id for a in answers if a.ok)
        if doubly_told := {v: n for v, n in told.items() if n > 1}:
            self.problems.append(f"two verifications told the same id: {list(doubly_told)[:5]}")
        twice = {v: n for v, n in recorded.items() if n > 1}
        untold = set(recorded) - set(told) - self.before
        unrecorded = set(told) - set(recorded)
        figures["verification events"] = sum(recorded.values())
        if twice or unrecorded:
            self.problems.append(
                f"answered verifications recorded twice {list(twice)[:5]} or never {list(unrecorded)[:5]}"
            )
        if untold:
            self.problems.append(
                f"{len(untold)} verifications recorded that no answer told of: {sorted(untold)[:5]}"
            )

        await self.refresh_topics()
        for service in SERVICES:
            stored = {e.event_id for e in await self.stores.events(service)}
            on_topic = set(self.topics[service].ids)
            if stored != on_topic:
                self.problems.append(
                    f"{service} topic differs from its store: {len(stored - on_topic)} missing, "
                    f"{len(on_topic - stored)} unknown ({sorted(stored ^ on_topic)[:5]})"
                )
        cross = {e.event_id for e in identity if e.cross_region and e.partner == PARTNER}
        if cross != set(self.partner.ids):
            self.problems.append(
                f"partner topic: {len(cross - set(self.partner.ids))} cross-region events missing, "
                f"{len(set(self.partner.ids) - cross)} unexpected"
            )
        for name, tally in (*((s, self.topics[s]) for s in SERVICES), ("partner", self.partner)):
            if twice_on_topic := tally.duplicates():
                sample = dict(list(twice_on_topic.items())[:3])
                self.problems.append(
                    f"{len(twice_on_topic)} CloudEvents ids twice on the {name} topic "
                    f"(partition, offset, sequence): {sample}"
                )
        figures["identity topic messages"] = sum(self.topics["identity"].ids.values())
        figures["partner topic messages"] = sum(self.partner.ids.values())
        figures["cross-region events"] = len(cross)

        from_scratch = sum(1 for e in identity if e.cross_region and e.partner == PARTNER and e.verified)
        inbound = await self.reporting_inbound()
        figures["reporting inbound uses"] = inbound
        figures["inbound uses counted from identity's store"] = from_scratch
        if inbound != from_scratch:
            self.problems.append(
                f"reporting counts {inbound} inbound Sichuan uses; identity's store has {from_scratch}"
            )
        return figures


# -- the faults ----------------------------------------------------------------------------------


def _window(load: VenueLoad, start: float, end: float, recovery: Recovery) -> None:
    touched = [a for a in load.answers if a.sent < end and (a.answered is None or a.answered >= start)]
    recovery.lost_answers = sum(len(a.lost) for a in touched)
    recovery.slowest_s = max(((a.answered or end) - a.sent for a in touched), default=0.0)


async def recover(
    checks: Checks, recovery: Recovery, since: float, heads: dict[str, Head | None], services: tuple[str, ...]
) -> None:
    group = checks.chaos.group
    recovery.ready_s = await until(
        lambda: _all_ready(group, services), since, READY_BOUND_S + 30, interval=0.1
    )
    recovery.api_s = await until(lambda: checks.probes.all_ok(services), since, API_BOUND_S + 30)
    recovery.caught_up_s = await until(
        lambda: checks.caught_up(heads), since, CAUGHT_UP_BOUND_S + 30, interval=0.5
    )
    for what, value, bound in (
        ("ready", recovery.ready_s, READY_BOUND_S),
        ("answering 2xx", recovery.api_s, API_BOUND_S),
        ("caught up", recovery.caught_up_s, CAUGHT_UP_BOUND_S),
    ):
        if value is None or value > bound:
            checks.problems.append(f"{recovery.fault}: not {what} within {bound:.0f}s (took {value})")
    if recovery.ready_s is None:
        for service in services:
            checks.problems.append(f"{service} log tail:\n{group[service].tail(2000)}")
    _window(checks.load, since - recovery.down_s, time.monotonic(), recovery)
    await checks.so_far(recovery.fault, heads, recovery)


async def _all_ready(group: ServiceGroup, services: tuple[str, ...]) -> bool:
    for service in services:
        if not await ready(group[service]):
            return False
    return True


async def kill_and_restart(checks: Checks, service: str) -> Recovery:
    process = checks.chaos.group[service]
    recovery = Recovery(f"SIGKILL {service}", down_s=0.0)
    killed = time.monotonic()
    process.kill()
    process.launch()  # the orchestrator starts it again at once
    heads = await checks.stores.heads()
    await recover(checks, recovery, killed, heads, (service,))
    return recovery


def _pids(group: ServiceGroup) -> dict[str, int | None]:
    return {name: p.process.pid if p.process else None for name, p in group.processes.items()}


async def server_outage(checks: Checks, server: str, down: float) -> Recovery:
    group, servers = checks.chaos.group, checks.chaos.servers
    pids = _pids(group)
    began = time.monotonic()
    await servers.run(server, "stop")
    await asyncio.sleep(down)
    await servers.run(server, "start")
    ended = time.monotonic()
    recovery = Recovery(f"{'Kafka' if server == 'kafka' else 'PostgreSQL'} stop/start", down_s=ended - began)
    heads = await checks.stores.heads()
    await recover(checks, recovery, ended, heads, SERVICES)
    if _pids(group) != pids:
        checks.problems.append(f"{recovery.fault}: a service process was replaced: {pids} -> {_pids(group)}")
    try:
        group.check_alive()
    except RuntimeError as exc:
        checks.problems.append(f"{recovery.fault}: a service died: {exc}")
    return recovery


# -- the test ------------------------------------------------------------------------------------


@pytest.mark.timeout(600)
async def test_the_platform_heals_itself_under_load(chaos: Chaos) -> None:
    before = {
        e.stream_id.removeprefix("verification-")
        for e in await chaos.stores.events("identity")
        if e.stream_id.startswith("verification-")
    }
    load = VenueLoad(chaos.group.base("identity"), chaos.world.venue_auth, chaos.world.bodies, rate=LOAD_RATE)
    probes = Probes(chaos.group, chaos.world, load)
    checks = Checks(chaos, load, probes, before)
    test_started = time.monotonic()
    readiness = Readiness(chaos.group, test_started)
    stop_watching = asyncio.Event()
    watcher = asyncio.create_task(readiness.watch(stop_watching))
    recoveries: list[Recovery] = []
    figures: dict[str, Any] = {}
    load.start()
    try:
        await asyncio.sleep(WARM_UP_S)
        for service in SERVICES:
            recoveries.append(await kill_and_restart(checks, service))
        recoveries.append(await server_outage(checks, "kafka", KAFKA_DOWN_S))
        recoveries.append(await server_outage(checks, "postgres", PG_DOWN_S))
    finally:
        await load.stop()
        load_s = time.monotonic() - test_started
        try:
            final_heads = await chaos.stores.heads()
            settled = await until(lambda: checks.caught_up(final_heads), time.monotonic(), 90, interval=0.5)
            if settled is None:
                checks.problems.append("the platform did not catch up with the last events within 90 s")
            figures = await checks.finally_()
        finally:
            stop_watching.set()
            await watcher
            await probes.close()
    figures["load duration s"] = round(load_s, 1)
    figures["module so far s"] = round(time.monotonic() - chaos.started, 1)
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
        f"# Chaos suite: {len(recoveries)} faults, {LOAD_RATE:.0f} verifications/s",
        "",
        table(recoveries),
        "",
        f"state and logs: {chaos.servers.state}",
        "",
        "```",
        json.dumps(figures, ensure_ascii=False, indent=1, default=str),
        "```",
        "",
        "readiness changes:",
        *(f"  {c}" for c in readiness.changes),
    ]
    if problems:
        lines += ["", "PROBLEMS:", *(f"- {p}" for p in problems)]
    return "\n".join(lines) + "\n"

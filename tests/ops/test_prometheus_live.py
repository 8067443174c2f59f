"""Every PromQL expression of the dashboards and alerting rules returns data from a live platform.

The five services run as real processes (`onecard serve <service>`, distributed mode: a fresh
PostgreSQL database, Kafka topics under a fresh prefix), a real Prometheus scrapes them every second
with the labels the chart's ServiceMonitors give (job="onecard", service="<service>", honouring the
services' own labels), traffic goes through the public HTTP APIs, and then each expression is sent
to Prometheus' `/api/v1/query`.

The rule for "returns data":
- A dashboard query or variable (`label_values(selector, label)` is checked as `selector`) must
  return a non-empty result as it stands.
- An alert expression is a condition: on a healthy platform its comparisons filter everything out.
  It is evaluated as it stands (an empty result accepted) and then with `bool` added to every
  comparison operator (`x > 0.05` becomes `x > bool 0.05`), which keeps every series and yields
  0 or 1 instead of filtering: that form must be non-empty, proving that the series each side of
  every comparison, `and` and `or` exist with matching labels.
A dashboard expression that is empty as it stands fails: a panel must show data (a zero, not
"No data", on a healthy platform).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer
from onecard_service.privacy import ssn_check_character
from onecard_service.settings import generate_token_keypair

from tests.conftest import create_database, unique
from tests.ops.test_deploy_artifacts import RULES, _all_expressions

ONECARD = str(Path(sys.executable).parent / "onecard")
SERVICES = ("catalog", "identity", "payments", "disbursement", "reporting")
REQUIRE = os.environ.get("ONECARD_REQUIRE_SERVERS") == "1"
ADMIN_TOKEN = "prometheus-live-admin-0123456789"
NAMESPACE = "onecard-live"
JURISDICTION = "500106"
ITEM_SEQ = f"L{uuid.uuid4().int % 10000}"  # a fresh database each run: no clash
ITEM = f"{JURISDICTION}:{ITEM_SEQ}"
VENUE, TERMINAL = "v-live-1", "t1"
PARTNER = "510000"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def prometheus_bin() -> str:
    path = shutil.which("prometheus") or (
        "/usr/bin/prometheus" if os.access("/usr/bin/prometheus", os.X_OK) else None
    )
    if path is None:
        message = "prometheus is not available (apt-get install prometheus)"
        if REQUIRE:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


# ---------------------------------------------------------------------------------------------
# The platform as processes, and Prometheus
# ---------------------------------------------------------------------------------------------


@dataclass
class LivePlatform:
    env: dict[str, str]
    logs: Path
    ports: dict[str, int] = field(default_factory=lambda: {s: _free_port() for s in SERVICES})
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def base(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def start(self) -> None:
        for service in SERVICES:
            log = (self.logs / f"{service}.log").open("ab")
            self.procs.append(
                subprocess.Popen(
                    [ONECARD, "serve", service, "--port", str(self.ports[service]), "--host", "127.0.0.1"],
                    env=self.env,
                    stdout=log,
                    stderr=log,
                )
            )

    async def wait_ready(self, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        async with httpx.AsyncClient(timeout=5) as client:
            for service in SERVICES:
                url = f"{self.base(service)}/{service}/readyz"
                while True:
                    self.check_alive()
                    try:
                        if (await client.get(url)).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline:
                        raise AssertionError(f"{service} not ready:\n{self.tail(service)}")
                    await asyncio.sleep(0.2)

    def check_alive(self) -> None:
        for service, proc in zip(SERVICES, self.procs, strict=True):
            if proc.poll() is not None:
                raise AssertionError(
                    f"onecard serve {service} exited ({proc.returncode}):\n{self.tail(service)}"
                )

    def tail(self, service: str) -> str:
        return (self.logs / f"{service}.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def scrape_config(platform: LivePlatform) -> dict[str, Any]:
    """What the chart's ServiceMonitors make of each service: path /<service>/metrics, honour the
    services' own labels, and job="onecard" plus service="<service>" on every series (up included).
    The operator also adds `namespace`: a static label stands in for it."""
    return {
        "global": {"scrape_interval": "1s", "scrape_timeout": "900ms", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {
                "job_name": f"onecard-{service}",
                "metrics_path": f"/{service}/metrics",
                "honor_labels": True,
                "static_configs": [
                    {"targets": [f"127.0.0.1:{platform.ports[service]}"], "labels": {"namespace": NAMESPACE}}
                ],
                "relabel_configs": [
                    {"action": "replace", "target_label": "job", "replacement": "onecard"},
                    {"action": "replace", "target_label": "service", "replacement": service},
                ],
            }
            for service in SERVICES
        ],
    }


@pytest.fixture
def live_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
async def platform(pg_url: str, kafka_bootstrap: str, live_dir: Path) -> AsyncIterator[LivePlatform]:
    private_pem, public_pem = generate_token_keypair()
    env = {
        **os.environ,
        "ONECARD_DATABASE_URL": await create_database(pg_url),
        "ONECARD_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "ONECARD_TOPIC_PREFIX": unique("live") + ".",
        "ONECARD_ADMIN_TOKEN": ADMIN_TOKEN,
        "ONECARD_TOKEN_PRIVATE_KEY": private_pem.decode(),
        "ONECARD_TOKEN_PUBLIC_KEY": public_pem.decode(),
        "ONECARD_PII_KEY": secrets.token_hex(32),
        "ONECARD_PARTNERS": PARTNER,
        "ONECARD_LOG_LEVEL": "WARNING",
        # Make the simulated banks decline / fail above a threshold, so those series exist too.
        "ONECARD_SIMBANK_DECLINE_ABOVE_FEN": "100000",
        "ONECARD_SIMBANK_FAIL_ABOVE_FEN": "100000",
    }
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    topics = await asyncio.create_subprocess_exec(
        ONECARD, "topics", "--partitions", "2", env=env, stdout=asyncio.subprocess.DEVNULL
    )
    assert await topics.wait() == 0, "onecard topics failed"
    migrate = await asyncio.create_subprocess_exec(
        ONECARD, "migrate", env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    _, err = await migrate.communicate()
    assert migrate.returncode == 0, f"onecard migrate failed: {err.decode()[-2000:]}"
    live = LivePlatform(env, live_dir)
    live.start()
    try:
        await live.wait_ready()
        yield live
    finally:
        live.stop()


@dataclass
class Prometheus:
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    async def query(self, client: httpx.AsyncClient, expr: str) -> list[Any]:
        response = await client.get(f"{self.url}/api/v1/query", params={"query": expr})
        body = response.json()
        assert response.status_code == 200 and body["status"] == "success", f"{expr}\n{body}"
        result: list[Any] = body["data"]["result"]
        return result


@pytest.fixture
def prometheus(prometheus_bin: str, platform: LivePlatform, live_dir: Path) -> Iterator[Prometheus]:
    config = live_dir / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(platform)))
    port = _free_port()
    log = live_dir / "prometheus.log"
    proc = subprocess.Popen(
        [
            prometheus_bin,
            f"--config.file={config}",
            f"--storage.tsdb.path={live_dir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1h",
            "--log.level=warn",
        ],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"prometheus did not start:\n{log.read_text()[-3000:]}", pytrace=False)
            time.sleep(0.2)
        yield Prometheus(url, proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------------------------------------
# Traffic through the public APIs
# ---------------------------------------------------------------------------------------------


def _ssn(serial: int, region: str = JURISDICTION) -> str:
    first17 = f"{region}19900101{serial % 1000:03d}"
    return first17 + ssn_check_character(first17)


def _ok(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    assert response.status_code in (statuses or (200, 201, 202)), (
        f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
    )
    body: dict[str, Any] = response.json() if response.content else {}
    return body


async def _until(what: str, attempt: Any, seconds: float = 60) -> Any:
    """Retry `attempt` (a coroutine function returning a truthy value when done): services learn
    of catalogue changes through Kafka, a moment after the catalog answered."""
    deadline = time.monotonic() + seconds
    while True:
        result = await attempt()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not done within {seconds} s")
        await asyncio.sleep(0.25)


async def drive_traffic(live: LivePlatform) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    catalog, identity, payments = live.base("catalog"), live.base("identity"), live.base("payments")
    disbursement, reporting = live.base("disbursement"), live.base("reporting")
    year = datetime.now(UTC).year
    async with httpx.AsyncClient(headers=admin, timeout=30) as c:
        # catalog: an item (identity, payment and disbursement; planned above what it reaches, so
        # the depth dashboard has rows behind plan), a venue with a terminal, a merchant.
        item = {
            "item_id": ITEM,
            "kind": "service",
            "name": "监控验收事项",
            "department": "区大数据局",
            "card_forms": ["physical", "electronic"],
            "categories": ["identity", "payment", "disbursement"],
            "plan": {str(y): 3 for y in range(year - 1, year + 2)},
        }
        _ok(await c.post(f"{catalog}/catalog/v1/items", json=item), 201)
        venue = {"venue_id": VENUE, "name": "监控图书馆", "jurisdiction": JURISDICTION, "item_id": ITEM}
        _ok(await c.post(f"{catalog}/catalog/v1/venues", json=venue), 201)
        terminal = {"terminal_id": TERMINAL, "card_forms": ["physical", "electronic"]}
        _ok(await c.post(f"{catalog}/catalog/v1/venues/{VENUE}/terminals", json=terminal), 201)
        merchant_id = f"m-live-{uuid.uuid4().hex[:6]}"
        merchant = {
            "merchant_id": merchant_id,
            "name": "监控商户",
            "jurisdiction": JURISDICTION,
            "item_id": ITEM,
        }
        _ok(await c.post(f"{catalog}/catalog/v1/merchants", json=merchant), 201)
        _ok(await c.put(f"{catalog}/catalog/v1/merchants/{merchant_id}/ecard-agreement"))
        gate = _ok(
            await c.post(
                f"{catalog}/catalog/v1/clients", json={"role": "venue", "name": "gate", "venues": [VENUE]}
            ),
            201,
        )
        venue_auth = {"Authorization": f"Bearer {gate['token']}"}
        _ok(await c.get(f"{catalog}/catalog/v1/items/{ITEM}-missing"), 404)  # a 4xx series

        # identity: a card, verified with the physical card and with its e-card code; a refusal;
        # a partner region's card verified (cross-region), then hotlisted and refused.
        card_no, ssn = "L00000001", _ssn(1)
        card = {"card_no": card_no, "ssn": ssn, "name": "张三", "issuer_region": JURISDICTION}
        _ok(await c.post(f"{identity}/identity/v1/cards", json=card), 201)

        def physical(card_body: dict[str, str]) -> dict[str, Any]:
            return {"venue_id": VENUE, "terminal_id": TERMINAL, "method": "physical", "card": card_body}

        last: list[str] = []

        async def verified_once() -> bool:
            r = await c.post(f"{identity}/identity/v1/verifications", json=physical(card), headers=venue_auth)
            last[:] = [r.text]
            return r.status_code == 200 and bool(r.json()["verified"])

        try:
            await _until("identity learns of the venue", verified_once)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; last answer: {last}") from None
        _ok(await c.post(f"{identity}/identity/v1/cards/{card_no}/ecard"))
        qr = _ok(await c.post(f"{identity}/identity/v1/cards/{card_no}/qr"))["qr"]
        by_code = {"venue_id": VENUE, "terminal_id": TERMINAL, "method": "electronic", "qr": qr}
        assert _ok(await c.post(f"{identity}/identity/v1/verifications", json=by_code, headers=venue_auth))[
            "verified"
        ]
        unknown = {**card, "card_no": "L99999999", "ssn": _ssn(2)}
        refusal = _ok(
            await c.post(f"{identity}/identity/v1/verifications", json=physical(unknown), headers=venue_auth)
        )
        assert refusal["verified"] is False
        partner_card = {
            "card_no": "S12345678",
            "ssn": _ssn(20, "510104"),
            "name": "李四",
            "issuer_region": "510100",
        }
        crossed = _ok(
            await c.post(
                f"{identity}/identity/v1/verifications", json=physical(partner_card), headers=venue_auth
            )
        )
        assert crossed["cross_region"] is True, crossed
        _ok(
            await c.post(
                f"{identity}/identity/v1/partners/{PARTNER}/hotlist",
                json={"card_no": partner_card["card_no"], "status": "lost"},
            )
        )
        hot = _ok(
            await c.post(
                f"{identity}/identity/v1/verifications", json=physical(partner_card), headers=venue_auth
            )
        )
        assert (hot["verified"], hot["cross_region"]) == (False, True), hot

        # payments: bills paid by card account, one settled and one declined (above the limit).
        async def bill(amount_fen: int) -> str | None:
            body = {"merchant_id": merchant_id, "bill_ref": uuid.uuid4().hex[:12], "amount_fen": amount_fen}
            r = await c.post(f"{payments}/payments/v1/bills", json={**body, "description": "监控"})
            return str(r.json()["bill_id"]) if r.status_code == 201 else None

        statuses = []
        for amount in (1500, 200_000):
            bill_id = await _until("payments learns of the merchant", lambda amount=amount: bill(amount))
            paid = await c.post(
                f"{payments}/payments/v1/bills/{bill_id}/payments",
                json={"method": "card_account", "card": card},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            statuses.append(_ok(paid, 201)["status"])
        assert statuses == ["settled", "declined"], statuses

        # disbursement: a program, a batch of two payees (one fails at the bank), completed.
        program_id = f"P-{uuid.uuid4().hex[:8]}"
        program = {
            "program_id": program_id,
            "item_id": ITEM,
            "name": "监控补贴",
            "jurisdiction": JURISDICTION,
        }

        async def program_created() -> bool:
            r = await c.post(f"{disbursement}/disbursement/v1/programs", json=program)
            assert r.status_code in (201, 422), r.text
            return r.status_code == 201

        await _until("disbursement learns of the item", program_created)
        payees = [
            {
                "reference_id": f"{program_id}-{i}",
                "ssn": _ssn(30 + i),
                "card_no": f"C{i:08d}",
                "name": f"王小明{i}",
                "amount_fen": amount,
                "channel": "card_account",
            }
            for i, amount in enumerate((10_000, 150_000))
        ]
        batch_id = f"B-{uuid.uuid4().hex[:8]}"
        batch = {
            "batch_id": batch_id,
            "program_id": program_id,
            "period": f"{year}-01",
            "control_count": 2,
            "control_total_fen": sum(p["amount_fen"] for p in payees),
        }
        _ok(await c.post(f"{disbursement}/disbursement/v1/batches", json=batch), 201)
        added = _ok(
            await c.post(f"{disbursement}/disbursement/v1/batches/{batch_id}/payees", json={"payees": payees})
        )
        assert added["accepted"] == 2, added
        _ok(await c.post(f"{disbursement}/disbursement/v1/batches/{batch_id}/submit"), 202)

        async def completed() -> bool:
            state = _ok(await c.get(f"{disbursement}/disbursement/v1/batches/{batch_id}"))
            return state["status"] == "completed"

        await _until("the batch completes", completed)

        # reporting: the depth report (its gauges are refreshed from the same snapshot).
        async def depth_has_item() -> bool:
            rows = _ok(await c.get(f"{reporting}/reporting/v1/depth", params={"item_id": ITEM}))["rows"]
            return bool(rows)

        await _until("reporting shows the item", depth_has_item)

    # A partner sends something that is not a CloudEvent: it goes to the DLQ.
    producer = AIOKafkaProducer(bootstrap_servers=live.env["ONECARD_KAFKA_BOOTSTRAP"])
    await producer.start()
    try:
        topic = f"{live.env['ONECARD_TOPIC_PREFIX']}partner.{PARTNER}.onecard.v1"
        await producer.send_and_wait(topic, key=b"bad", value=b"not a cloudevent", headers=[])
    finally:
        await producer.stop()


# ---------------------------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------------------------

_COMPARISON = re.compile(r"(==|!=|>=|<=|>|<)(?!\s*bool\b)")


def with_bool(expr: str) -> str:
    """`expr` with `bool` after every comparison operator outside label matchers and strings."""
    out: list[str] = []
    depth = 0
    i = 0
    while i < len(expr):
        ch = expr[i]
        if ch == '"':
            end = i + 1
            while expr[end] != '"':
                end += 2 if expr[end] == "\\" else 1
            out.append(expr[i : end + 1])
            i = end + 1
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif depth == 0 and (match := _COMPARISON.match(expr, i)):
            out.append(f"{match.group(1)} bool")
            i = match.end()
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def test_with_bool_rewrites_only_comparisons() -> None:
    assert with_bool('up{job="onecard", a!="x>y"} == 0') == 'up{job="onecard", a!="x>y"} == bool 0'
    assert with_bool("a > 0.05 and b >= 1 or c < on (x) d") == (
        "a > bool 0.05 and b >= bool 1 or c < bool on (x) d"
    )
    assert with_bool("a > bool 1") == "a > bool 1"


async def _await_series(
    prom: Prometheus, client: httpx.AsyncClient, exprs: list[str], seconds: float
) -> None:
    deadline = time.monotonic() + seconds
    pending = list(exprs)
    while pending and time.monotonic() < deadline:
        pending = [e for e in pending if not await prom.query(client, e)]
        if pending:
            await asyncio.sleep(1)


async def test_every_dashboard_and_alert_expression_returns_data(
    platform: LivePlatform, prometheus: Prometheus
) -> None:
    started = time.monotonic()
    await drive_traffic(platform)
    platform.check_alive()
    exprs = _all_expressions()
    async with httpx.AsyncClient(timeout=10) as client:
        # Every scrape target up, then a few more scrapes so rates and increases have two samples.
        await _await_series(prometheus, client, ['count(up{job="onecard"} == 1) == 5'], 30)
        await _await_series(
            prometheus, client, ['sum(increase(onecard_dlq_events_total{job="onecard"}[10m])) > 0'], 30
        )
        empty: list[str] = []
        for name, expr in exprs:
            is_rule = name.startswith("rule ")
            checked = with_bool(expr) if is_rule else expr
            # Gauges refreshed in the background (depth, lag) may need a scrape or two more.
            for _ in range(10):
                if result := await prometheus.query(client, checked):
                    break
                await asyncio.sleep(1)
            if not result:
                empty.append(f"{name}:\n    {checked}")
        rules = (await client.get(f"{prometheus.url}/api/v1/rules")).json()["data"]["groups"]
    unhealthy = [
        f"{r['name']}: {r.get('lastError')}" for g in rules for r in g["rules"] if r.get("health") == "err"
    ]
    assert not unhealthy, f"alerting rules failing in Prometheus: {unhealthy}"
    assert {r["name"] for g in rules for r in g["rules"]} >= {"OnecardServiceDown", "OnecardDeadLetters"}
    assert not empty, (
        "expressions without data:\n"
        + "\n".join(empty)
        + "\n"
        + json.dumps({"elapsed_s": round(time.monotonic() - started, 1)})
    )

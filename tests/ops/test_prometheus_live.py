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
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiokafka import AIOKafkaProducer

from tests.ops.test_deploy_artifacts import RULES, _all_expressions
from tests.support import people
from tests.support.names import unique
from tests.support.ports import free_port
from tests.support.processes import ChildProcess, ServiceGroup, distributed_env, served
from tests.support.public_api import Place, place_with_merchant, program_for
from tests.support.public_api import ok as _ok
from tests.support.servers import missing
from tests.support.waiting import eventually

SERVICES = ("catalog", "identity", "payments", "disbursement", "reporting")
ADMIN_TOKEN = "prometheus-live-admin-0123456789"
NAMESPACE = "onecard-live"
JURISDICTION = "500106"
ITEM_SEQ = f"L{uuid.uuid4().int % 10000}"  # a fresh database each run: no clash
ITEM = f"{JURISDICTION}:{ITEM_SEQ}"
VENUE, TERMINAL = "v-live-1", "t1"
PLACE = Place(ITEM, VENUE, TERMINAL, JURISDICTION, "监控")
PARTNER = "510000"


@pytest.fixture(scope="module")
def prometheus_bin() -> str:
    path = shutil.which("prometheus") or (
        "/usr/bin/prometheus" if os.access("/usr/bin/prometheus", os.X_OK) else None
    )
    if path is None:
        missing("prometheus is not available (apt-get install prometheus)")
    return path


# ---------------------------------------------------------------------------------------------
# The platform as processes, and Prometheus
# ---------------------------------------------------------------------------------------------


def scrape_config(platform: ServiceGroup) -> dict[str, Any]:
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
async def platform(pg_url: str, kafka_bootstrap: str, live_dir: Path) -> AsyncIterator[ServiceGroup]:
    env = await distributed_env(
        pg_url,
        kafka_bootstrap,
        topic_prefix=unique("live") + ".",
        admin_token=ADMIN_TOKEN,
        private_key=True,
        ONECARD_PARTNERS=PARTNER,
        # Make the simulated banks decline / fail above a threshold, so those series exist too.
        ONECARD_SIMBANK_DECLINE_ABOVE_FEN="100000",
        ONECARD_SIMBANK_FAIL_ABOVE_FEN="100000",
    )
    async with served(SERVICES, env, live_dir) as live:
        yield live


@dataclass
class Prometheus:
    url: str
    process: ChildProcess

    async def query(self, client: httpx.AsyncClient, expr: str) -> list[Any]:
        response = await client.get(f"{self.url}/api/v1/query", params={"query": expr})
        body = response.json()
        assert response.status_code == 200 and body["status"] == "success", f"{expr}\n{body}"
        result: list[Any] = body["data"]["result"]
        return result


@pytest.fixture
async def prometheus(
    prometheus_bin: str, platform: ServiceGroup, live_dir: Path
) -> AsyncIterator[Prometheus]:
    config = live_dir / "prometheus.yml"
    config.write_text(yaml.safe_dump(scrape_config(platform)))
    port = free_port()
    command = [
        prometheus_bin,
        f"--config.file={config}",
        f"--storage.tsdb.path={live_dir / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=1h",
        "--log.level=warn",
    ]
    server = ChildProcess("prometheus", command, port, "/-/ready", log=live_dir / "prometheus.log")
    server.launch()
    try:
        await server.wait_ready(30)
        yield Prometheus(server.url, server)
    finally:
        server.stop(15)


# ---------------------------------------------------------------------------------------------
# Traffic through the public APIs
# ---------------------------------------------------------------------------------------------


async def drive_traffic(live: ServiceGroup) -> None:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    catalog, identity, payments = live.base("catalog"), live.base("identity"), live.base("payments")
    disbursement, reporting = live.base("disbursement"), live.base("reporting")
    year = datetime.now(UTC).year
    async with httpx.AsyncClient(headers=admin, timeout=30) as c:
        # catalog: an item (identity, payment and disbursement; planned above what it reaches, so
        # the depth dashboard has rows behind plan), a venue with a terminal, a merchant.
        merchant_id = await place_with_merchant(c, catalog, PLACE)
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
        card_no, ssn = "L00000001", people.ssn(1)
        card = {"card_no": card_no, "ssn": ssn, "name": "张三", "issuer_region": JURISDICTION}
        _ok(await c.post(f"{identity}/identity/v1/cards", json=card), 201)

        def physical(card_body: dict[str, str]) -> dict[str, Any]:
            return {"venue_id": VENUE, "terminal_id": TERMINAL, "method": "physical", "card": card_body}

        # At once: identity's catalogue view catches up with the venue before it would refuse it.
        first = _ok(
            await c.post(f"{identity}/identity/v1/verifications", json=physical(card), headers=venue_auth)
        )
        assert first["verified"], first
        _ok(await c.post(f"{identity}/identity/v1/cards/{card_no}/ecard"))
        qr = _ok(await c.post(f"{identity}/identity/v1/cards/{card_no}/qr"))["qr"]
        by_code = {"venue_id": VENUE, "terminal_id": TERMINAL, "method": "electronic", "qr": qr}
        assert _ok(await c.post(f"{identity}/identity/v1/verifications", json=by_code, headers=venue_auth))[
            "verified"
        ]
        unknown = {**card, "card_no": "L99999999", "ssn": people.ssn(2)}
        refusal = _ok(
            await c.post(f"{identity}/identity/v1/verifications", json=physical(unknown), headers=venue_auth)
        )
        assert refusal["verified"] is False
        partner_card = {
            "card_no": "S12345678",
            "ssn": people.ssn(20, "510104"),
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
        async def bill(amount_fen: int) -> str:
            body = {"merchant_id": merchant_id, "bill_ref": uuid.uuid4().hex[:12], "amount_fen": amount_fen}
            opened = _ok(
                await c.post(f"{payments}/payments/v1/bills", json={**body, "description": "监控"}), 201
            )
            return str(opened["bill_id"])

        statuses = []
        for amount in (1500, 200_000):
            # At once too: payments' view catches up with the merchant before it would refuse it.
            bill_id = await bill(amount)
            paid = await c.post(
                f"{payments}/payments/v1/bills/{bill_id}/payments",
                json={"method": "card_account", "card": card},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            statuses.append(_ok(paid, 201)["status"])
        assert statuses == ["settled", "declined"], statuses

        # disbursement: a program, a batch of two payees (one fails at the bank), completed.
        program_id = await program_for(c, disbursement, PLACE)
        payees = [
            {
                "reference_id": f"{program_id}-{i}",
                "ssn": people.ssn(30 + i),
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

        await eventually(completed, timeout=60, interval=0.25, what="the batch completes")

        # reporting: the depth report (its gauges are refreshed from the same snapshot).
        async def depth_has_item() -> bool:
            rows = _ok(await c.get(f"{reporting}/reporting/v1/depth", params={"item_id": ITEM}))["rows"]
            return bool(rows)

        await eventually(depth_has_item, timeout=60, interval=0.25, what="reporting shows the item")

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
    platform: ServiceGroup, prometheus: Prometheus
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

"""Offline validators: the reference validator cut off from the platform decides 1,000 taps alone,
queues them on its own disk and uploads them once the link is back (docs/offline-validators.md).

The platform is served on a loopback port; the validator reaches it through a `LinkCut`, which
refuses connections while cut (the platform's port closed, as far as the validator can tell).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from onecard_contracts.ecard_code import card_subject
from onecard_contracts.schemas import problems
from onecard_events.kafka import partner_outbound_topic
from onecard_events.times import rfc3339, utcnow
from onecard_identity.adapters.devtools import PartnerRegion, mint_qr
from onecard_identity.handlers.keys import signing_key
from onecard_validator.validator import Validator

from tests.reporting.test_partners import read_topic
from tests.support import people
from tests.support.faults import LinkCut
from tests.support.platform import RunningPlatform, fresh_distributed_settings, start_platform, stop_platform
from tests.support.serving import served_on_port
from tests.support.waiting import eventually

from .helpers import ITEM, identity, identity_events, register, seed_venue, set_status, venue_headers

BUS = "v-bus-500240"
TWO_BUSES = "v-bus-500240-two"
CRASHED_BUS = "v-bus-500240-crashed"
OLD_BUS = "v-bus-500240-old"
GOOD_CARDS = 6


# Identity records the taps, reporting counts them (and writes the partner stream), the catalog
# holds the venues.
SERVICES = ("catalog", "identity", "reporting")


@pytest.fixture
def services_under_test() -> tuple[str, ...]:
    return SERVICES


@pytest.fixture(scope="module")
async def shared(pg_url: str, kafka_bootstrap: str) -> AsyncIterator[RunningPlatform]:
    """One distributed platform (PostgreSQL, Kafka) for the tests below, each at its own venue."""
    running, _ = await start_platform(await fresh_distributed_settings(pg_url, kafka_bootstrap), SERVICES)
    yield running
    await stop_platform(running)


@asynccontextmanager
async def link_to(running: RunningPlatform) -> AsyncIterator[LinkCut]:
    async with served_on_port(running.dispatcher) as port:
        link = LinkCut("127.0.0.1", port)
        await link.restore()
        try:
            yield link
        finally:
            await link.cut()


def validator(
    running: RunningPlatform, link: LinkCut, data: Path, venue: str, terminal: str, **kw: Any
) -> Validator:
    token = venue_headers(running, venue, client_id=f"validator-{venue}")["Authorization"].removeprefix(
        "Bearer "
    )
    return Validator(data, f"http://{link.address}", token, venue, terminal, **kw)


async def offline_events(running: RunningPlatform, *venues: str) -> list[dict[str, Any]]:
    recorded = await identity_events(running, "onecard.identity.verification_recorded")
    return [
        e.data for e in recorded if e.data.get("offline") and (not venues or e.data["venue_id"] in venues)
    ]


async def partner_region(running: RunningPlatform) -> PartnerRegion:
    """Sichuan, its key registered."""
    sichuan = PartnerRegion()
    url = f"/identity/v1/partners/510000/keys/{sichuan.kid}"
    put = await running.client.put(url, json={"public_key": sichuan.public_key_b64()}, headers=running.admin)
    assert put.status_code == 200, put.text
    return sichuan


async def good_cards(
    running: RunningPlatform, count: int = GOOD_CARDS, prefix: str = "B"
) -> list[tuple[str, str]]:
    cards = []
    for i in range(count):
        card_no, ssn = people.card_no(i, prefix=prefix), people.ssn(300 + i, region="500240")
        assert (await register(running, card_no, ssn, region="500240")).status_code == 201
        response = await running.client.post(f"/identity/v1/cards/{card_no}/ecard", headers=running.admin)
        assert response.status_code == 200, response.text
        cards.append((card_no, ssn))
    return cards


async def test_a_thousand_taps_cut_off_then_uploaded_once(embedded: RunningPlatform, tmp_path: Path) -> None:
    p = embedded
    await seed_venue(p, BUS, "500240", {"bus-1": ["physical", "electronic"]})
    await seed_venue(p, OLD_BUS, "500240", {"bus-9": ["physical"]})
    cards = await good_cards(p)
    sichuan = await partner_region(p)
    ctx = identity(p)
    ours = await signing_key(ctx)

    async with link_to(p) as link:
        # A validator that last saw the platform 40 days ago, and tapped then: its taps count then.
        real_clock, long_ago = ctx.clock, utcnow() - timedelta(days=40)
        ctx.clock = lambda: long_ago
        old = validator(p, link, tmp_path / "old", OLD_BUS, "bus-9", clock=long_ago.timestamp)
        assert await old.refresh()
        ctx.clock = real_clock
        for card_no, ssn in cards[:5]:
            assert old.tap_card(card_no, ssn, "张三", "500240").accepted

        bus = validator(p, link, tmp_path / "bus", BUS, "bus-1")
        assert await bus.refresh()
        bundle = bus.bundle()
        assert bundle is not None and bundle.valid_at(int(time.time()))
        # Reported lost after the bundle was issued: the validator cannot know.
        lost_no = cards[-1][0]
        assert (await set_status(p, lost_no, "lost")).status_code == 200

        await link.cut()
        assert not await bus.refresh()
        now = int(time.time())
        expected: dict[int, tuple[bool, str | None, str | None]] = {}  # sequence -> validator, finding

        def tap(decision_of: Any, finding: str | None = None) -> None:
            decision = decision_of()
            expected[len(expected) + 1] = (decision.accepted, decision.reason, finding)

        for i in range(600):  # good cards
            card_no, ssn = cards[i % (GOOD_CARDS - 1)]
            tap(lambda c=card_no, s=ssn: bus.tap_card(c, s, "张三", "500240"))
        for i in range(394):  # good codes, each shown once
            card_no, _ = cards[i % (GOOD_CARDS - 1)]
            qr = mint_qr(ours.key, ours.kid, card_no, "500240", now=now)
            tap(lambda q=qr: bus.tap_code(q))
        replayed = mint_qr(ours.key, ours.kid, cards[0][0], "500240", now=now)
        tap(lambda: bus.tap_code(replayed))
        tap(lambda: bus.tap_code(replayed))  # refused on the spot by the validator's own cache
        lost_code = mint_qr(ours.key, ours.kid, lost_no, "500240", now=now)
        tap(lambda: bus.tap_code(lost_code), "hotlisted_after_bundle")
        for i in range(3):  # a partner's codes
            tap(lambda i=i: bus.tap_code(sichuan.mint(f"S0000000{i}", "510100", now=now)))
        assert len(expected) == 1000
        decided = Counter((accepted, reason) for accepted, reason, _ in expected.values())
        assert decided == {(True, None): 999, (False, "qr_reused"): 1}
        cut_off = await bus.upload()
        assert (cut_off.reachable, cut_off.sent, cut_off.pending) == (False, 0, 1000)

        await link.restore()
        report = await bus.upload(batch=300)
        assert report.reachable and (report.sent, report.recorded, report.pending) == (1000, 1000, 0)
        assert report.findings == {"hotlisted_after_bundle": 1}
        # Everything sent again (as after a lost acknowledgement): nothing is recorded twice.
        bus.queue._db.execute("UPDATE taps SET uploaded = 0")
        again = await bus.upload(batch=450)
        assert (again.sent, again.recorded) == (1000, 0) and again.findings == report.findings
        assert (await old.upload()).recorded == 5

    events = await offline_events(p)
    assert [
        problem for e in events for problem in problems("onecard.identity.verification_recorded", e)
    ] == []
    at_bus = {e["offline"]["terminal_sequence"]: e for e in events if e["venue_id"] == BUS}
    assert len(at_bus) == 1000 and len(events) == 1005  # each tap once
    for sequence, (accepted, reason, finding) in expected.items():
        offline = at_bus[sequence]["offline"]
        assert (offline["validator_verified"], offline["validator_reason"], offline["finding"]) == (
            accepted,
            reason,
            finding,
        ), sequence
    lost = next(e for e in at_bus.values() if e["offline"]["finding"])
    assert (lost["verified"], lost["reason"]) == (False, "card_lost")
    assert sum(1 for e in at_bus.values() if e["partner_region"] == "510000" and e["verified"]) == 3
    old_times = {e["occurred_at"][:10] for e in events if e["venue_id"] == OLD_BUS}
    assert old_times == {long_ago.date().isoformat()}

    # Operations see the finding: the query endpoint and the metric.
    recent = {"since": rfc3339(utcnow() - timedelta(hours=1))}
    found = (await p.client.get("/identity/v1/offline-findings", params=recent, headers=p.admin)).json()[
        "findings"
    ]
    assert [(f["venue_id"], f["finding"], f["platform"]["reason"]) for f in found] == [
        (BUS, "hotlisted_after_bundle", "card_lost")
    ]
    metrics = (await p.client.get("/identity/metrics")).text
    assert 'onecard_offline_findings_total{finding="hotlisted_after_bundle",partner="none"} 1.0' in metrics

    # Depth: the bus venue is active (taps today), the other not (its taps, uploaded today, are 40
    # days old); the partner's three accepted codes count once each, however often uploaded.
    async def figures() -> tuple[Any, Any] | None:
        depth = await p.client.get("/reporting/v1/depth", params={"item_id": ITEM}, headers=p.admin)
        rows = [
            r for r in depth.json()["rows"] if r["category"] == "identity" and r["jurisdiction"] == "500240"
        ]
        cross = await p.client.get(
            "/reporting/v1/cross-region", params={"partner": "510000"}, headers=p.admin
        )
        inbound = sum(r["inbound"] for r in cross.json()["rows"] if r["item_id"] == ITEM)
        if rows and rows[0]["active_numerator"] == 1 and inbound == 3:
            return rows[0], inbound
        return None

    row, _ = await eventually(figures, what="depth and cross-region figures with the offline taps")
    assert (row["denominator"], row["active_numerator"]) == (2, 1)


async def test_a_code_used_at_two_validators_is_accepted_by_both_and_flagged_once(
    shared: RunningPlatform, tmp_path: Path
) -> None:
    """A partner's code, so the finding also reaches the partner's stream."""
    p = shared
    await seed_venue(p, TWO_BUSES, "500240", {"bus-1": ["electronic"], "bus-2": ["electronic"]})
    sichuan = await partner_region(p)
    async with link_to(p) as link:
        first = validator(p, link, tmp_path / "one", TWO_BUSES, "bus-1")
        second = validator(p, link, tmp_path / "two", TWO_BUSES, "bus-2")
        assert await first.refresh() and await second.refresh()
        # A card hotlisted since: the next refresh is a delta of that one card.
        base = first.bundle()
        assert base is not None
        lost = {"card_no": "S00000099", "status": "lost"}
        hotlisted = await p.client.post("/identity/v1/partners/510000/hotlist", json=lost, headers=p.admin)
        assert hotlisted.status_code == 200, hotlisted.text
        since = {"venue_id": TWO_BUSES, "since": base.version}
        delta = await p.client.get("/identity/v1/offline-bundle", params=since, headers=p.admin)
        assert (delta.json()["since"], delta.json()["version"]) == (base.version, base.version + 1)
        assert await first.refresh()
        refreshed = first.bundle()
        assert refreshed is not None and refreshed.version == base.version + 1
        assert refreshed.hotlisted(card_subject("510000", "S00000099")) == "lost"
        assert not first.tap_code(sichuan.mint("S00000099", "510100")).accepted  # tap 1 at bus-1
        await link.cut()
        code = sichuan.mint("S00000042", "510100")
        assert first.tap_code(code).accepted and second.tap_code(code).accepted
        await link.restore()
        one, two = await first.upload(), await second.upload()
        assert (one.recorded, two.recorded) == (2, 1)
        assert (one.findings, two.findings) == ({}, {"code_used_twice": 1})
        # Uploaded again: still flagged once.
        second.queue._db.execute("UPDATE taps SET uploaded = 0")
        assert (await second.upload()).recorded == 0

    events = await offline_events(p, TWO_BUSES)
    assert sorted(
        (e["terminal_id"], e["verified"], e["reason"] or "", e["offline"]["finding"] or "") for e in events
    ) == [
        ("bus-1", False, "partner_hotlisted", ""),
        ("bus-1", True, "", ""),
        ("bus-2", False, "qr_reused", "code_used_twice"),
    ]
    found = (
        await p.client.get("/identity/v1/offline-findings", params={"venue_id": TWO_BUSES}, headers=p.admin)
    ).json()["findings"]
    assert [(f["terminal_id"], f["finding"], f["partner_region"]) for f in found] == [
        ("bus-2", "code_used_twice", "510000")
    ]
    settings = p.platform.settings
    assert settings.kafka_bootstrap
    messages = await read_topic(
        settings.kafka_bootstrap, partner_outbound_topic("510000", settings.topic_prefix), 3
    )
    sent = [orjson.loads(m.value) for m in messages]
    assert sorted((m["verified"], m["offline"]["finding"] or "") for m in sent) == [
        (False, ""),
        (False, "code_used_twice"),
        (True, ""),
    ]
    assert all(problems("onecard.partner.verification_recorded", m) == [] for m in sent)


async def test_an_upload_retried_after_a_crash_mid_batch_records_nothing_twice(
    shared: RunningPlatform, tmp_path: Path
) -> None:
    p = shared
    await seed_venue(p, CRASHED_BUS, "500240", {"bus-1": ["physical", "electronic"]})
    cards = await good_cards(p, 5, prefix="K")
    ours = await signing_key(identity(p))
    async with link_to(p) as link:
        bus = validator(p, link, tmp_path / "bus", CRASHED_BUS, "bus-1")
        assert await bus.refresh()
        await link.cut()
        now = int(time.time())
        for i in range(300):
            card_no, ssn = cards[i % 5]
            if i % 2:
                assert bus.tap_card(card_no, ssn, "张三", "500240").accepted
            else:
                assert bus.tap_code(mint_qr(ours.key, ours.kid, card_no, "500240", now=now)).accepted
        await link.restore()

        # The validator dies after the platform recorded its second batch, before noting it.
        marked = bus.queue.mark_uploaded
        calls = 0

        def crash_on_second(sequences: list[int]) -> None:
            nonlocal calls
            calls += 1
            if calls == 2:
                raise SystemExit("power lost")
            marked(sequences)

        bus.queue.mark_uploaded = crash_on_second  # type: ignore[method-assign]
        with pytest.raises(SystemExit):
            await bus.upload(batch=100)
        bus.close()

        # Restarted from its disk: 200 taps look unsent, 100 of them recorded already. Two
        # uploads at once (as two replicas behind a load balancer would see them), split otherwise.
        restarted = [validator(p, link, tmp_path / "bus", CRASHED_BUS, "bus-1") for _ in range(2)]
        reports = await asyncio.gather(restarted[0].upload(batch=70), restarted[1].upload(batch=120))
        assert sum(r.recorded for r in reports) == 100
        assert all(r.pending == 0 for r in reports)

    events = await offline_events(p, CRASHED_BUS)
    sequences = Counter(e["offline"]["terminal_sequence"] for e in events)
    assert len(sequences) == 300 and set(sequences.values()) == {1}
    assert all(e["verified"] and e["offline"]["finding"] is None for e in events)

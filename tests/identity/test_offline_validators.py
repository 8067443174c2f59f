"""Offline validators: the reference validator cut off from the platform decides 1,000 taps alone,
queues them on its own disk and uploads them once the link is back (docs/offline-validators.md).

The platform is served on a loopback port; the validator reaches it through a `LinkCut`, which
refuses connections while cut (the platform's port closed, as far as the validator can tell).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from onecard_events.times import utcnow
from onecard_identity.adapters.devtools import PartnerRegion, mint_qr
from onecard_identity.handlers.keys import signing_key
from onecard_validator.validator import Validator

from tests.support import people
from tests.support.faults import LinkCut
from tests.support.platform import RunningPlatform
from tests.support.serving import served_on_port
from tests.support.waiting import eventually

from .helpers import ITEM, identity, identity_events, register, seed_venue, set_status, venue_headers

BUS = "v-bus-500240"
OLD_BUS = "v-bus-500240-old"
GOOD_CARDS = 20


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


async def offline_events(running: RunningPlatform) -> list[dict[str, Any]]:
    recorded = await identity_events(running, "onecard.identity.verification_recorded")
    return [e.data for e in recorded if e.data.get("offline")]


async def good_cards(running: RunningPlatform) -> list[tuple[str, str]]:
    cards = []
    for i in range(GOOD_CARDS):
        card_no, ssn = people.card_no(i, prefix="B"), people.ssn(300 + i, region="500240")
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
    sichuan = PartnerRegion()
    put = await p.client.put(
        f"/identity/v1/partners/510000/keys/{sichuan.kid}",
        json={"public_key": sichuan.public_key_b64()},
        headers=p.admin,
    )
    assert put.status_code == 200, put.text
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
        lost_no, lost_ssn = cards[-1]
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
    found = (await p.client.get("/identity/v1/offline-findings", headers=p.admin)).json()["findings"]
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

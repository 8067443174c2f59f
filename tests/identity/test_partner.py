"""Sichuan cards: physical and e-card, cross-region, partner keys and the hotlist."""

from __future__ import annotations

from onecard_identity.adapters.devtools import PartnerRegion
from onecard_identity.domain.cards import card_subject
from onecard_reporting.domain.events import PartnerHotlistChanged

from tests.support.platform import RunningPlatform
from tests.support.waiting import eventually

from .helpers import (
    identity_events,
    make_ssn,
    outcome,
    seed_venue,
    verify_code,
    verify_physical,
)

SICHUAN_SSN = make_ssn(20, region="510104")


async def _register_partner_key(running: RunningPlatform, partner: PartnerRegion, pem: bool = False) -> None:
    key = partner.public_key_pem() if pem else partner.public_key_b64()
    response = await running.client.put(
        f"/identity/v1/partners/510000/keys/{partner.kid}", json={"public_key": key}, headers=running.admin
    )
    assert response.status_code == 200, response.text


async def _hotlist(running: RunningPlatform, card_no: str, status: str) -> None:
    response = await running.client.post(
        "/identity/v1/partners/510000/hotlist",
        json={"card_no": card_no, "status": status},
        headers=running.admin,
    )
    assert response.status_code == 200, response.text


async def test_sichuan_card_accepted_then_hotlisted(any_mode: RunningPlatform) -> None:
    await seed_venue(any_mode)
    partner = PartnerRegion()
    await _register_partner_key(any_mode, partner)
    physical = await verify_physical(any_mode, "S12345678", SICHUAN_SSN, "李四", "510100")
    assert await outcome(physical) == (True, None)
    assert physical.json()["cross_region"] is True
    assert await outcome(await verify_code(any_mode, partner.mint("S12345678", "510100"))) == (True, None)

    await _hotlist(any_mode, "S12345678", "lost")
    refused = await verify_physical(any_mode, "S12345678", SICHUAN_SSN, "李四", "510100")
    assert await outcome(refused) == (False, "partner_hotlisted")
    code = partner.mint("S12345678", "510100")
    assert await outcome(await verify_code(any_mode, code)) == (False, "partner_hotlisted")
    # Another Sichuan card is unaffected.
    other = await verify_physical(any_mode, "S87654321", make_ssn(21, region="510104"), "赵六", "510100")
    assert await outcome(other) == (True, None)

    events = [e.data for e in await identity_events(any_mode, "onecard.identity.verification_recorded")]
    assert {e["partner_region"] for e in events} == {"510000"}
    assert all(e["cross_region"] for e in events)
    assert events[0]["issuer_region"] == "510100" and events[0]["holder_key"]
    assert events[1]["method"] == "electronic" and events[1]["holder_key"] is None


async def test_hotlist_lifted_and_ordering(embedded: RunningPlatform) -> None:
    await seed_venue(embedded)
    await _hotlist(embedded, "S11111111", "cancelled")
    assert await outcome(await verify_physical(embedded, "S11111111", SICHUAN_SSN, region="510100")) == (
        False,
        "partner_hotlisted",
    )
    await _hotlist(embedded, "S11111111", "active")
    assert await outcome(await verify_physical(embedded, "S11111111", SICHUAN_SSN, region="510100")) == (
        True,
        None,
    )
    # A change older than the one applied does not undo it.
    stale = await embedded.client.post(
        "/identity/v1/partners/510000/hotlist",
        json={"card_no": "S11111111", "status": "lost", "changed_at": "2000-01-01T00:00:00Z"},
        headers=embedded.admin,
    )
    assert stale.status_code == 200
    assert await outcome(await verify_physical(embedded, "S11111111", SICHUAN_SSN, region="510100")) == (
        True,
        None,
    )


async def test_partner_key_formats_and_errors(embedded: RunningPlatform) -> None:
    await seed_venue(embedded)
    partner = PartnerRegion(kid="sc-pem-1")
    await _register_partner_key(embedded, partner, pem=True)
    assert await outcome(await verify_code(embedded, partner.mint("S22222222", "510100"))) == (True, None)
    bad = await embedded.client.put(
        "/identity/v1/partners/510000/keys/x1", json={"public_key": "bm90IGEga2V5"}, headers=embedded.admin
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "public_key"
    unknown_region = await embedded.client.put(
        "/identity/v1/partners/520000/keys/x1",
        json={"public_key": partner.public_key_b64()},
        headers=embedded.admin,
    )
    assert unknown_region.status_code == 404


async def test_hotlist_from_reporting_partner_stream(embedded: RunningPlatform) -> None:
    """A hotlist change reporting accepted from Sichuan's inbound stream reaches identity's hotlist:
    the stream's card_key is the card subject, as in the partner's e-card codes."""
    await seed_venue(embedded)
    ssn = make_ssn(22, region="510104")
    assert await outcome(await verify_physical(embedded, "S23456789", ssn, "李四", "510100")) == (True, None)
    reporting = embedded.runtime("reporting")
    change = PartnerHotlistChanged(
        region="510000", card_key=card_subject("510000", "S23456789"), status="lost"
    )
    async with reporting.db.engine.begin() as conn:
        await reporting.store.append(conn, "partner-hotlist-510000", [change], expected_version=None)

    async def refused() -> bool:
        response = await verify_physical(embedded, "S23456789", ssn, "李四", "510100")
        return await outcome(response) == (False, "partner_hotlisted")

    await eventually(refused)
    other = await verify_physical(embedded, "S87654321", make_ssn(23, region="510104"), "赵六", "510100")
    assert await outcome(other) == (True, None)

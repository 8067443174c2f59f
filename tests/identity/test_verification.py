"""Verification at venues: the main flow in both modes and every refusal reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from onecard_catalog.domain.events import TerminalDecommissioned
from onecard_contracts.ecard_code import parse_qr
from onecard_identity.adapters.devtools import PartnerRegion, mint_qr
from onecard_identity.handlers.keys import signing_key

from tests.support.platform import RunningPlatform

from .helpers import (
    VENUE,
    ecard_and_code,
    identity,
    identity_events,
    make_ssn,
    outcome,
    register,
    seed,
    seed_venue,
    set_status,
    venue_headers,
    verify_code,
    verify_physical,
)

EVENT_FIELDS = {
    "verification_id",
    "venue_id",
    "terminal_id",
    "item_id",
    "jurisdiction",
    "method",
    "verified",
    "reason",
    "issuer_region",
    "cross_region",
    "partner_region",
    "holder_key",
    "occurred_at",
    "code_use",  # the e-card code's use, keyed-hashed (docs/adr/0012)
    "offline",  # null for a live verification (docs/offline-validators.md)
}


async def test_main_flow(any_mode: RunningPlatform) -> None:
    await seed_venue(any_mode)
    ssn = make_ssn(10)
    assert (await register(any_mode, "M12345678", ssn)).status_code == 201
    physical = await verify_physical(any_mode, "M12345678", ssn)
    assert physical.status_code == 200, physical.text
    body = physical.json()
    assert body["verified"] is True and body["reason"] is None and body["cross_region"] is False
    assert body["holder_ref"].startswith("h_")
    qr = await ecard_and_code(any_mode, "M12345678")
    electronic = (await verify_code(any_mode, qr)).json()
    assert electronic["verified"] is True and electronic["holder_ref"] == body["holder_ref"]
    assert await outcome(await verify_code(any_mode, qr)) == (False, "qr_reused")

    events = await identity_events(any_mode, "onecard.identity.verification_recorded")
    assert len(events) == 3
    for record in events:
        assert set(record.data) == EVENT_FIELDS
        assert record.stream_id == f"verification-{record.data['verification_id']}"
    first = events[0].data
    assert first["method"] == "physical" and first["item_id"] == "500000:30"
    assert first["jurisdiction"] == "500106" and first["issuer_region"] == "500106"
    assert first["partner_region"] is None and first["holder_key"]
    assert first["occurred_at"].endswith("Z")
    assert first["code_use"] is None  # a physical card
    jti = parse_qr(qr).claims.jti
    used, replayed = events[1].data["code_use"], events[2].data["code_use"]
    assert used == replayed and len(used) == 64 and jti not in used
    metrics = await any_mode.client.get("/identity/metrics")
    assert 'onecard_verifications_total{cross_region="false",method="electronic",reason="qr_reused",' in (
        metrics.text
    )


async def test_holder_ref_is_per_caller(embedded: RunningPlatform) -> None:
    await seed_venue(embedded)
    ssn = make_ssn(11)
    await register(embedded, "H12345678", ssn)
    one = await verify_physical(embedded, "H12345678", ssn, headers=venue_headers(embedded, client_id="a"))
    two = await verify_physical(embedded, "H12345678", ssn, headers=venue_headers(embedded, client_id="b"))
    assert one.json()["holder_ref"] != two.json()["holder_ref"]


async def test_physical_refusals(embedded: RunningPlatform) -> None:
    await seed_venue(embedded, terminals={"t1": ["physical", "electronic"], "t-qr": ["electronic"]})
    ssn = make_ssn(12)
    await register(embedded, "R12345678", ssn)
    bad_ssn = ssn[:17] + ("1" if ssn[17] != "1" else "2")
    cases = [
        ((bad_ssn, "R12345678", "500106", "t1"), "invalid_ssn"),
        ((ssn, "r1234567", "500106", "t1"), "invalid_card"),
        ((ssn, "R12345678", "5001", "t1"), "invalid_card"),
        ((ssn, "R00000000", "500106", "t1"), "unknown_card"),
        ((make_ssn(13), "R12345678", "500106", "t1"), "ssn_mismatch"),
        ((ssn, "R12345678", "500106", "t-qr"), "no_terminal"),
        ((ssn, "R12345678", "500106", "t-none"), "no_terminal"),
        ((ssn, "R12345678", "440100", "t1"), "unknown_issuer"),
    ]
    for (s, card_no, region, terminal), reason in cases:
        response = await verify_physical(embedded, card_no, s, region=region, terminal_id=terminal)
        assert await outcome(response) == (False, reason), (card_no, region, terminal)
        assert response.json()["holder_ref"] is None
    await set_status(embedded, "R12345678", "lost")
    lost = await verify_physical(embedded, "R12345678", ssn)
    assert await outcome(lost) == (False, "card_lost")
    assert lost.json()["holder_ref"] is not None  # the holder is known; the card is not usable
    await set_status(embedded, "R12345678", "cancelled")
    assert await outcome(await verify_physical(embedded, "R12345678", ssn)) == (False, "card_cancelled")


async def test_decommissioned_terminal_and_unknown_venue(embedded: RunningPlatform) -> None:
    await seed_venue(embedded)
    ssn = make_ssn(14)
    await register(embedded, "T12345678", ssn)
    assert await outcome(await verify_physical(embedded, "T12345678", ssn)) == (True, None)
    await seed(embedded, TerminalDecommissioned(venue_id=VENUE, terminal_id="t1"))
    assert await outcome(await verify_physical(embedded, "T12345678", ssn)) == (False, "no_terminal")
    unknown = await verify_physical(embedded, "T12345678", ssn, venue_id="nowhere", headers=embedded.admin)
    assert unknown.status_code == 404


async def test_code_refusals(embedded: RunningPlatform) -> None:
    await seed_venue(embedded)
    ssn = make_ssn(15)
    await register(embedded, "Q12345678", ssn)
    qr = await ecard_and_code(embedded, "Q12345678")
    head, claims, signature = qr.split(".")
    forged = f"{head}.{claims}.{signature[:-4]}AAAA"
    assert await outcome(await verify_code(embedded, forged)) == (False, "qr_bad_signature")
    stranger = PartnerRegion(region="510000", kid="510000-unknown")
    foreign = stranger.mint("S12345678", "510100")
    assert await outcome(await verify_code(embedded, foreign)) == (False, "qr_bad_signature")
    assert await outcome(await verify_code(embedded, "not-a-code")) == (False, "qr_malformed")

    ctx = identity(embedded)
    real_clock = ctx.clock
    ctx.clock = lambda: real_clock() + timedelta(seconds=61)
    try:
        assert await outcome(await verify_code(embedded, qr)) == (False, "qr_expired")
    finally:
        ctx.clock = real_clock
    assert await outcome(await verify_code(embedded, qr)) == (True, None)
    assert await outcome(await verify_code(embedded, qr)) == (False, "qr_reused")

    # A genuine code of ours for a card without an e-card (defence in depth: the code endpoint
    # refuses such cards, so sign one directly with the region's key).
    await register(embedded, "N12345678", make_ssn(16))
    signing = await signing_key(ctx)
    no_ecard = mint_qr(signing.key, signing.kid, "N12345678", "500106")
    assert await outcome(await verify_code(embedded, no_ecard)) == (False, "no_ecard")
    unknown = mint_qr(signing.key, signing.kid, "U12345678", "500106")
    assert await outcome(await verify_code(embedded, unknown)) == (False, "unknown_card")

    await set_status(embedded, "Q12345678", "lost")
    lost = mint_qr(signing.key, signing.kid, "Q12345678", "500106")
    assert await outcome(await verify_code(embedded, lost)) == (False, "card_lost")
    await set_status(embedded, "Q12345678", "cancelled")
    gone = mint_qr(signing.key, signing.kid, "Q12345678", "500106")
    assert await outcome(await verify_code(embedded, gone)) == (False, "card_cancelled")


async def test_code_issued_in_the_future_or_too_long(embedded: RunningPlatform) -> None:
    await seed_venue(embedded)
    await register(embedded, "F12345678", make_ssn(17))
    await ecard_and_code(embedded, "F12345678")
    signing = await signing_key(identity(embedded))
    now = int(datetime.now(UTC).timestamp())
    ahead = mint_qr(signing.key, signing.kid, "F12345678", "500106", now=now + 120)
    assert await outcome(await verify_code(embedded, ahead)) == (False, "qr_expired")
    long_lived = mint_qr(signing.key, signing.kid, "F12345678", "500106", ttl=3600)
    assert await outcome(await verify_code(embedded, long_lived)) == (False, "qr_expired")


async def test_rotated_keys_keep_verifying(embedded: RunningPlatform) -> None:
    await seed_venue(embedded)
    await register(embedded, "K12345678", make_ssn(18))
    before = await ecard_and_code(embedded, "K12345678")
    rotated = await embedded.client.post("/identity/v1/signing-keys/rotate", headers=embedded.admin)
    assert rotated.status_code == 200
    after = await ecard_and_code(embedded, "K12345678")
    assert before.split(".")[0] != after.split(".")[0]  # another kid in the header
    assert await outcome(await verify_code(embedded, before)) == (True, None)
    assert await outcome(await verify_code(embedded, after)) == (True, None)
    keys = (await embedded.client.get("/identity/v1/keys")).json()
    assert len(keys) == 2 and sum(1 for k in keys if k["active"]) == 1

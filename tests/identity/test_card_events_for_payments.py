"""What identity's events give payments: the card's account reference and the signing keys."""

from __future__ import annotations

from tests.identity.helpers import ecard_and_code, identity_events, issue_code, make_ssn, register
from tests.support.platform import RunningPlatform


async def test_card_and_key_events_for_payments(embedded: RunningPlatform) -> None:
    running = embedded
    card_no, ssn = "P00000071", make_ssn(71)
    assert (await register(running, card_no, ssn)).status_code == 201
    await ecard_and_code(running, card_no)
    await issue_code(running, card_no)

    keys = running.platform.personal_data
    (registered,) = await identity_events(running, "onecard.identity.card_registered")
    assert registered.data["account_ref"] == keys.keyed_hash(card_no, "card-account")
    assert registered.data["holder_key"] == keys.keyed_hash(ssn, "holder")
    assert card_no not in str(registered.data) and ssn not in str(registered.data)

    published = await identity_events(running, "onecard.identity.signing_key_published")
    listed = (await running.client.get("/identity/v1/keys")).json()
    # One event per key however many codes it signed, with the key GET /identity/v1/keys lists.
    assert [(e.data["region"], e.data["kid"], e.data["public_key"]) for e in published] == [
        (k["region"], k["kid"], k["public_key"]) for k in listed
    ]

    rotated = await running.client.post("/identity/v1/signing-keys/rotate", headers=running.admin)
    assert rotated.status_code == 200, rotated.text
    await issue_code(running, card_no)
    published = await identity_events(running, "onecard.identity.signing_key_published")
    assert [e.data["kid"] for e in published][-1] == rotated.json()["kid"]
    assert len(published) == 2

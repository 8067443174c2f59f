"""Cards: registration with field-level validation, the status lifecycle, e-cards and codes.

The rules alone (check characters, the card aggregate) are tested in tests/unit/identity."""

from __future__ import annotations

from tests.support.platform import RunningPlatform

from .helpers import make_ssn, outcome, register, seed_venue, set_status, verify_physical


async def test_register_masks_personal_fields(any_mode: RunningPlatform) -> None:
    ssn = make_ssn(1)
    response = await register(any_mode, "A12345678", ssn, "王小明")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "active" and body["ecard"] is False
    assert body["card_no"] == "A******78" and body["ssn"] == ssn[:3] + "*" * 11 + ssn[-4:]
    assert body["name"] == "王**"
    again = await register(any_mode, "A12345678", ssn, "王小明")
    assert again.status_code == 409


async def test_field_level_errors(embedded: RunningPlatform) -> None:
    bad = make_ssn(2)[:17] + ("0" if make_ssn(2)[17] != "0" else "1")
    response = await register(embedded, "a1234567", bad, "", "50010")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"card_no", "ssn", "name", "issuer_region"}
    assert bad not in response.text
    partner_card = await register(embedded, "B12345678", make_ssn(3), "李四", "510100")
    assert partner_card.status_code == 422
    assert partner_card.json()["errors"][0]["field"] == "issuer_region"


async def test_lost_reactivated_cancelled_and_final(embedded: RunningPlatform) -> None:
    await seed_venue(embedded)
    ssn = make_ssn(4)
    assert (await register(embedded, "C12345678", ssn)).status_code == 201
    assert (await set_status(embedded, "C12345678", "lost")).json()["status"] == "lost"
    assert await outcome(await verify_physical(embedded, "C12345678", ssn)) == (False, "card_lost")
    assert (await set_status(embedded, "C12345678", "active")).json()["status"] == "active"
    assert await outcome(await verify_physical(embedded, "C12345678", ssn)) == (True, None)
    assert (await set_status(embedded, "C12345678", "cancelled")).json()["status"] == "cancelled"
    assert await outcome(await verify_physical(embedded, "C12345678", ssn)) == (False, "card_cancelled")
    for status in ("active", "lost", "cancelled"):
        response = await set_status(embedded, "C12345678", status)
        assert response.status_code == 409, response.text
    ecard = await embedded.client.post("/identity/v1/cards/C12345678/ecard", headers=embedded.admin)
    assert ecard.status_code == 409


async def test_unknown_card_and_bad_status(embedded: RunningPlatform) -> None:
    assert (await set_status(embedded, "Z99999999", "lost")).status_code == 404
    assert (await register(embedded, "D12345678", make_ssn(5))).status_code == 201
    response = await set_status(embedded, "D12345678", "stolen")
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "status"


async def test_code_needs_an_active_ecard(embedded: RunningPlatform) -> None:
    assert (await register(embedded, "E12345678", make_ssn(6))).status_code == 201
    response = await embedded.client.post("/identity/v1/cards/E12345678/qr", headers=embedded.admin)
    assert response.status_code == 409
    issued = await embedded.client.post("/identity/v1/cards/E12345678/ecard", headers=embedded.admin)
    assert issued.json()["ecard"] is True
    code = await embedded.client.post("/identity/v1/cards/E12345678/qr", headers=embedded.admin)
    assert code.status_code == 200
    assert set(code.json()) == {"qr", "expires_at"}
    await set_status(embedded, "E12345678", "lost")
    lost = await embedded.client.post("/identity/v1/cards/E12345678/qr", headers=embedded.admin)
    assert lost.status_code == 409

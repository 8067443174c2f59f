"""No ssn, name or card number in clear: not in a response, a log line or a stored event."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
from onecard_identity.adapters.devtools import PartnerRegion

from tests.support.platform import RunningPlatform

from .helpers import (
    ecard_and_code,
    identity_events,
    make_ssn,
    register,
    seed_venue,
    set_status,
    verify_code,
    verify_physical,
)

CARDS = [
    ("X12345678", make_ssn(50), "欧阳娜娜", "500106"),
    ("X23456789", make_ssn(51), "司马相如", "500106"),
]
SICHUAN = ("Y12345678", make_ssn(52, region="510104"), "诸葛孔明", "510100")


async def test_nothing_personal_in_clear(any_mode: RunningPlatform, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    responses: list[httpx.Response] = []
    await seed_venue(any_mode)
    partner = PartnerRegion()
    responses.append(
        await any_mode.client.put(
            f"/identity/v1/partners/510000/keys/{partner.kid}",
            json={"public_key": partner.public_key_b64()},
            headers=any_mode.admin,
        )
    )
    for card_no, ssn, name, region in CARDS:
        responses.append(await register(any_mode, card_no, ssn, name, region))
        responses.append(await register(any_mode, card_no, ssn, name, region))  # 409
        responses.append(await verify_physical(any_mode, card_no, ssn, name, region))
        responses.append(await verify_physical(any_mode, card_no, make_ssn(59), name, region))
        qr = await ecard_and_code(any_mode, card_no)
        responses.append(await verify_code(any_mode, qr))
        responses.append(await set_status(any_mode, card_no, "lost"))
        responses.append(await any_mode.client.get(f"/identity/v1/cards/{card_no}", headers=any_mode.admin))
    card_no, ssn, name, region = CARDS[0]
    responses.append(await register(any_mode, card_no.lower(), ssn[:17] + "Z", name, "5"))  # 422
    s_card, s_ssn, s_name, s_region = SICHUAN
    responses.append(await verify_physical(any_mode, s_card, s_ssn, s_name, s_region))
    responses.append(await verify_code(any_mode, partner.mint(s_card, s_region)))
    responses.append(
        await any_mode.client.post(
            "/identity/v1/partners/510000/hotlist",
            json={"card_no": s_card, "status": "lost"},
            headers=any_mode.admin,
        )
    )
    responses.append(await verify_physical(any_mode, s_card, s_ssn, s_name, s_region))

    secrets = [v for card in [*CARDS, SICHUAN] for v in card[:3]]
    bodies = [r.text for r in responses]
    # The test's own HTTP client logs the URLs it calls (the contract puts card_no in some paths);
    # that is the caller's log, not the service's.
    service_records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    logs = [
        r.getMessage() + str(r.args or "") + str(r.__dict__.get("exc_text") or "") for r in service_records
    ]
    stored = [
        json.dumps(r.data, ensure_ascii=False) + json.dumps(r.metadata, ensure_ascii=False) + r.stream_id
        for r in await identity_events(any_mode)
    ]
    assert len(stored) >= 10
    for secret in secrets:
        for where, texts in (("response", bodies), ("log", logs), ("event", stored)):
            for text in texts:
                assert secret not in text and secret.lower() not in text, f"{where} carries a personal value"

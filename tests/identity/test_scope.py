"""Who may do what: 401 without valid credentials, 403 outside the caller's scope."""

from __future__ import annotations

import httpx
from onecard_service.auth import Principal

from tests.support.platform import RunningPlatform, token_for

from .helpers import VENUE, make_ssn, register, seed_venue, venue_headers, verify_physical


async def test_credentials_and_scope(embedded: RunningPlatform) -> None:
    await seed_venue(embedded)
    await seed_venue(embedded, venue_id="v-other")
    ssn = make_ssn(40)
    await register(embedded, "A87654321", ssn)
    body = {"card_no": "A87654321", "ssn": ssn, "name": "张三", "issuer_region": "500106"}
    missing = await embedded.client.post("/identity/v1/cards", json=body)
    assert missing.status_code == 401 and missing.headers["content-type"] == "application/problem+json"
    garbage = await verify_physical(embedded, "A87654321", ssn, headers={"Authorization": "Bearer nope"})
    assert garbage.status_code == 401

    other_venue = await verify_physical(
        embedded, "A87654321", ssn, venue_id="v-other", headers=venue_headers(embedded, VENUE)
    )
    assert other_venue.status_code == 403
    own_venue = await verify_physical(embedded, "A87654321", ssn, headers=venue_headers(embedded, VENUE))
    assert own_venue.status_code == 200
    staff = token_for(embedded, Principal("ops-1", "operator"))
    assert (
        await verify_physical(embedded, "A87654321", ssn, venue_id="v-other", headers=staff)
    ).status_code == 200

    department = token_for(embedded, Principal("dept-1", "department", department="市人力社保局"))
    assert (await verify_physical(embedded, "A87654321", ssn, headers=department)).status_code == 403
    venue = venue_headers(embedded, VENUE)
    assert (await embedded.client.post("/identity/v1/cards", json=body, headers=venue)).status_code == 403
    status = await embedded.client.post(
        "/identity/v1/cards/A87654321/status", json={"status": "lost"}, headers=venue
    )
    assert status.status_code == 403
    key = await embedded.client.put(
        "/identity/v1/partners/510000/keys/k1", json={"public_key": "x"}, headers=venue
    )
    assert key.status_code == 403

    async def report_lost_sichuan_card(headers: dict[str, str]) -> httpx.Response:
        return await embedded.client.post(
            "/identity/v1/partners/510000/hotlist",
            json={"card_no": "S12345678", "status": "lost"},
            headers=headers,
        )

    wrong_partner = token_for(embedded, Principal("gz", "partner", region="520000"))
    hotlist = await report_lost_sichuan_card(wrong_partner)
    assert hotlist.status_code == 403
    sichuan = token_for(embedded, Principal("sc", "partner", region="510000"))
    own = await report_lost_sichuan_card(sichuan)
    assert own.status_code == 200

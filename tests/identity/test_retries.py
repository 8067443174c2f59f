"""A venue that lost an answer retries with the same Idempotency-Key: it is told the first answer
and nothing is recorded twice (issue 12), whether the retry comes later or in the same batch."""

from __future__ import annotations

import asyncio

from tests.support.platform import RunningPlatform

from .helpers import (
    ecard_and_code,
    identity_events,
    make_ssn,
    register,
    seed_venue,
    venue_headers,
    verify_code,
    verify_physical,
)

VERIFIED = "onecard.identity.verification_recorded"


def keyed(running: RunningPlatform, key: str, client_id: str = "venue-client") -> dict[str, str]:
    return {**venue_headers(running, client_id=client_id), "Idempotency-Key": key}


async def test_a_retry_is_told_the_first_answer_and_records_nothing(any_mode: RunningPlatform) -> None:
    await seed_venue(any_mode)
    ssn = make_ssn(31)
    await register(any_mode, "R12345678", ssn)
    first = await verify_physical(any_mode, "R12345678", ssn, headers=keyed(any_mode, "k-1"))
    again = await verify_physical(any_mode, "R12345678", ssn, headers=keyed(any_mode, "k-1"))
    assert first.status_code == again.status_code == 200, again.text
    assert again.json() == first.json() and first.json()["verified"] is True
    # The same key from another client is another request.
    other = await verify_physical(any_mode, "R12345678", ssn, headers=keyed(any_mode, "k-1", "other"))
    assert other.json()["verification_id"] != first.json()["verification_id"]
    # The same key with another body is refused, and records nothing either.
    changed = await verify_physical(any_mode, "R12345678", ssn, name="李四", headers=keyed(any_mode, "k-1"))
    assert changed.status_code == 409, changed.text
    assert changed.headers["content-type"].startswith("application/problem+json")
    assert len(await identity_events(any_mode, VERIFIED)) == 2


async def test_an_ecard_retry_is_not_a_reused_code(any_mode: RunningPlatform) -> None:
    await seed_venue(any_mode)
    ssn = make_ssn(32)
    await register(any_mode, "Q12345678", ssn)
    qr = await ecard_and_code(any_mode, "Q12345678")
    first = await verify_code(any_mode, qr, headers=keyed(any_mode, "qr-1"))
    again = await verify_code(any_mode, qr, headers=keyed(any_mode, "qr-1"))
    assert first.json()["verified"] is True and again.json() == first.json()
    # Without the key, the code is spent.
    spent = (await verify_code(any_mode, qr)).json()
    assert (spent["verified"], spent["reason"]) == (False, "qr_reused")
    assert len(await identity_events(any_mode, VERIFIED)) == 2


async def test_retries_racing_their_first_request_record_it_once(any_mode: RunningPlatform) -> None:
    await seed_venue(any_mode)
    ssn = make_ssn(33)
    await register(any_mode, "P12345678", ssn)
    answers = await asyncio.gather(
        *(
            verify_physical(any_mode, "P12345678", ssn, headers=keyed(any_mode, f"race-{i % 4}"))
            for i in range(40)
        )
    )
    assert {a.status_code for a in answers} == {200}
    ids = {a.json()["verification_id"] for a in answers}
    assert len(ids) == 4
    recorded = [e.data["verification_id"] for e in await identity_events(any_mode, VERIFIED)]
    assert sorted(recorded) == sorted(ids)


async def test_a_key_longer_than_200_characters_is_refused(embedded: RunningPlatform) -> None:
    await seed_venue(embedded)
    answer = await verify_physical(embedded, "R12345678", make_ssn(34), headers=keyed(embedded, "k" * 201))
    # The header's length rule is in the OpenAPI document: refused as invalid input (issue 15).
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"][0]["field"] == "Idempotency-Key"

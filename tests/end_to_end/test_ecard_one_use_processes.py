"""One use per e-card code with catalog, identity and payments as separate `onecard serve` processes
on PostgreSQL and Kafka, the way they run in production (docs/adr/0012-one-use-per-ecard-code.md).

The world is built through the public APIs. For each direction, 10 fresh codes: used at one
service, the time from its answer until the other service's nonce table holds the use (read from
that service's schema) is the window the distributed mode leaves open; the reuse after it is refused
`qr_reused`. The figures are printed (`-s`) and bounded by `DISTRIBUTED_WINDOW_S`:

    .venv/bin/pytest tests/end_to_end/test_ecard_one_use_processes.py -s
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from onecard_contracts.ecard_code import CODE_USE_PURPOSE, card_subject, code_use_input, parse_qr
from onecard_events.database import Database
from onecard_identity.adapters.tables import qr_nonces
from onecard_payments.adapters.tables import ecard_nonces, identity_cards, identity_signing_keys
from onecard_service.privacy import PersonalDataKeys
from sqlalchemy import Column, select

from tests.end_to_end.test_ecard_one_use import DISTRIBUTED_WINDOW_S, report
from tests.support import people, processes
from tests.support.names import unique
from tests.support.platform import ADMIN_TOKEN
from tests.support.processes import ServiceGroup, distributed_env
from tests.support.public_api import Place, ok, place_with_merchant
from tests.support.waiting import eventually

SERVED = ("catalog", "identity", "payments")
PLACE = Place("500106:E13", "v-e13", "t-e13", "500106", "一码一用")
CODES = 10


@pytest.fixture
async def platform(pg_url: str, kafka_bootstrap: str, tmp_path: Path) -> AsyncIterator[ServiceGroup]:
    env = await distributed_env(
        pg_url, kafka_bootstrap, topic_prefix=unique("ecard") + ".", admin_token=ADMIN_TOKEN, private_key=True
    )
    async with processes.served(SERVED, env, tmp_path) as group:
        yield group


async def holds(db: Database, column: Column[Any], value: str) -> bool:
    async with db.engine.connect() as conn:
        return (await conn.execute(select(column).where(column == value))).first() is not None


async def test_a_reuse_at_the_other_service_after_the_window_is_refused(platform: ServiceGroup) -> None:
    keys = PersonalDataKeys(bytes.fromhex(platform.env["ONECARD_PII_KEY"]))
    identity, payments = platform.base("identity"), platform.base("payments")
    identity_db, payments_db = (
        platform["identity"].database("identity"),
        platform["payments"].database("payments"),
    )
    async with httpx.AsyncClient(headers=platform["catalog"].admin, timeout=30) as c:
        merchant = await place_with_merchant(c, platform.base("catalog"), PLACE)
        venue = ok(
            await c.post(
                f"{platform.base('catalog')}/catalog/v1/clients",
                json={"role": "venue", "name": "一码一用闸机", "venues": [PLACE.venue_id]},
            ),
            201,
        )
        at_venue = {"Authorization": f"Bearer {venue['token']}"}
        card = people.card(1306, PLACE.jurisdiction, prefix="Q")
        ok(await c.post(f"{identity}/identity/v1/cards", json=card), 201)
        ok(await c.post(f"{identity}/identity/v1/cards/{card['card_no']}/ecard"))
        card_key = keys.keyed_hash(card_subject("500000", card["card_no"]), "card")

        async def payments_knows_the_card() -> bool:
            async with payments_db.engine.connect() as conn:
                row = (
                    await conn.execute(select(identity_cards).where(identity_cards.c.card_key == card_key))
                ).first()
            return row is not None and bool(row.ecard) and row.account_ref is not None

        await eventually(payments_knows_the_card, timeout=30, what="payments' view of the card")

        async def pay(qr: str) -> tuple[bool, str | None]:
            async def opened() -> str | None:
                body = {
                    "merchant_id": merchant,
                    "bill_ref": unique("b"),
                    "amount_fen": 100,
                    "description": "费",
                }
                r = await c.post(f"{payments}/payments/v1/bills", json=body)
                return (
                    str(r.json()["bill_id"]) if r.status_code == 201 else None
                )  # until the merchant is seen

            bill = await eventually(opened, timeout=30, what="payments knows the merchant")
            paid = ok(
                await c.post(
                    f"{payments}/payments/v1/bills/{bill}/payments", json={"method": "ecard", "qr": qr}
                )
            )
            return paid["status"] == "settled", paid["reason"]

        async def verify(qr: str) -> tuple[bool, str | None]:
            body = {
                "venue_id": PLACE.venue_id,
                "terminal_id": PLACE.terminal_id,
                "method": "electronic",
                "qr": qr,
            }

            async def answered() -> dict[str, Any] | None:
                r = await c.post(f"{identity}/identity/v1/verifications", json=body, headers=at_venue)
                return r.json() if r.status_code == 200 else None  # 404 until identity sees the terminal

            done = await eventually(answered, timeout=30, what="identity knows the venue")
            return done["verified"], done["reason"]

        uses: dict[str, Callable[[str], Awaitable[tuple[bool, str | None]]]] = {
            "payments": pay,
            "identity": verify,
        }
        tables = {
            "payments": (payments_db, ecard_nonces.c.nonce),
            "identity": (identity_db, qr_nonces.c.nonce),
        }
        for first, other in (("payments", "identity"), ("identity", "payments")):
            windows = []
            for _ in range(CODES):
                qr = ok(await c.post(f"{identity}/identity/v1/cards/{card['card_no']}/qr"))["qr"]
                code = parse_qr(qr)
                use = keys.keyed_hash(code_use_input(code), CODE_USE_PURPOSE)
                # The signing key reaches payments with the first code (docs/identity-qr.md).
                key_known = functools.partial(holds, payments_db, identity_signing_keys.c.kid, code.kid)
                await eventually(key_known, what="the signing key at payments")
                assert await uses[first](qr) == (True, None)
                answered_at = time.monotonic()
                db, column = tables[other]
                seen = functools.partial(holds, db, column, use)
                await eventually(
                    seen, timeout=DISTRIBUTED_WINDOW_S, interval=0.01, what=f"the use in {other}"
                )
                windows.append(time.monotonic() - answered_at)
                assert await uses[other](qr) == (False, "qr_reused")
            report(f"{first} -> {other}, separate processes", windows)
    await identity_db.dispose()
    await payments_db.dispose()

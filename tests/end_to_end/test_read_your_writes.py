"""A client that does one thing after another is never refused on a stale view (issue 13).

Each round writes at the catalog and, at once (no sleep, no polling), uses what it wrote at
another service: a new merchant's bill at payments, a new venue's terminal at identity, a merchant
that just joined the e-card agreement paid by e-card. Without a token the service catches its view
up before it would refuse; with the writes' `Onecard-Consistency` tokens it covers them first.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from onecard_events.consistency import HEADER
from onecard_service.auth import Principal

from tests.payments.helpers import register_ecard
from tests.support import platform as platforms
from tests.support.platform import RunningPlatform, token_for
from tests.support.servers import server_fixture

ROUNDS = 200
ITEM, JURISDICTION = "500106:901", "500106"
PAY_ITEM = VERIFY_ITEM = ITEM


async def an_item(running: RunningPlatform) -> None:
    """The item the rounds' venues and merchants belong to, from the catalog's API."""
    item = {
        "item_id": ITEM,
        "kind": "service",
        "name": "一卡通借阅",
        "department": "区文化旅游委",
        "card_forms": ["physical", "electronic"],
        "categories": ["identity", "payment"],
        "plan": {"2026": 3},
    }
    created = await running.client.post("/catalog/v1/items", json=item, headers=running.admin)
    assert created.status_code == 201, created.text


@pytest.fixture
def services_under_test() -> tuple[str, ...]:
    return ("catalog", "identity", "payments")


def token(response: httpx.Response) -> str:
    assert response.status_code in (200, 201), (
        f"{response.request.url}: {response.status_code} {response.text}"
    )
    value = response.headers.get(HEADER)
    assert value, f"{response.request.method} {response.request.url} answered without {HEADER}"
    return value


class Rounds:
    """One kind of round per method; `tokens` sends the writes' tokens along."""

    def __init__(self, running: RunningPlatform, tokens: bool) -> None:
        self.running = running
        self.c = running.client
        self.admin = running.admin
        self.tokens = tokens
        self.outcomes: Counter[str] = Counter()

    def _with(self, *written: httpx.Response) -> dict[str, str]:
        if not self.tokens:
            return self.admin
        return {**self.admin, HEADER: ",".join(token(r) for r in written)}

    async def venue_then_verify(self, card: dict[str, str]) -> None:
        venue_id = f"v-{uuid.uuid4().hex[:10]}"
        venue = await self.c.post(
            "/catalog/v1/venues",
            json={
                "venue_id": venue_id,
                "name": "图书馆",
                "jurisdiction": JURISDICTION,
                "item_id": VERIFY_ITEM,
            },
            headers=self.admin,
        )
        terminal = await self.c.post(
            f"/catalog/v1/venues/{venue_id}/terminals",
            json={"terminal_id": "t1", "card_forms": ["physical"]},
            headers=self.admin,
        )
        token(venue), token(terminal)
        headers = token_for(self.running, Principal("venue-client", "venue", venues=frozenset({venue_id})))
        if self.tokens:
            headers[HEADER] = f"{token(venue)},{token(terminal)}"
        body = {"venue_id": venue_id, "terminal_id": "t1", "method": "physical", "card": card}
        verified = await self.c.post("/identity/v1/verifications", json=body, headers=headers)
        answer = verified.json() if verified.status_code == 200 else {}
        self.outcomes[f"verify {verified.status_code} {answer.get('reason')}"] += 1

    async def payments(self, times: int, card_no: str) -> None:
        for _ in range(times):
            await self.merchant_bill_then_ecard(card_no)

    async def venues(self, times: int, card: dict[str, str]) -> None:
        for _ in range(times):
            await self.venue_then_verify(card)

    async def merchant_bill_then_ecard(self, card_no: str) -> None:
        """A new merchant's bill at once; then the merchant joins the e-card agreement and the
        bill is paid by e-card at once."""
        merchant_id, registered = await self._merchant()
        bill = await self.c.post(
            "/payments/v1/bills",
            json={"merchant_id": merchant_id, "bill_ref": uuid.uuid4().hex[:12], "amount_fen": 100},
            headers=self._with(registered),
        )
        self.outcomes[f"bill {bill.status_code}"] += 1
        if bill.status_code != 201:
            return
        joined = await self.c.put(f"/catalog/v1/merchants/{merchant_id}/ecard-agreement", headers=self.admin)
        minted = await self.c.post(f"/identity/v1/cards/{card_no}/qr", headers=self.admin)
        paid = await self.c.post(
            f"/payments/v1/bills/{token_of(bill, 'bill_id')}/payments",
            json={"method": "ecard", "qr": token_of(minted, "qr")},
            headers=self._with(joined),
        )
        answer = paid.json()
        self.outcomes[f"ecard {paid.status_code} {answer.get('status')} {answer.get('reason')}"] += 1

    async def _merchant(self) -> tuple[str, httpx.Response]:
        merchant_id = f"m-{uuid.uuid4().hex[:10]}"
        body = {"merchant_id": merchant_id, "name": "商户", "jurisdiction": JURISDICTION, "item_id": PAY_ITEM}
        return merchant_id, await self.c.post("/catalog/v1/merchants", json=body, headers=self.admin)


def token_of(response: httpx.Response, field: str) -> Any:
    assert response.status_code in (200, 201), (
        f"{response.request.url}: {response.status_code} {response.text}"
    )
    return response.json()[field]


async def a_card(running: RunningPlatform) -> dict[str, str]:
    from tests.support import people

    card = people.card(77, "500106", prefix="B", name="李四", born="19850101")
    registered = await running.client.post("/identity/v1/cards", json=card, headers=running.admin)
    assert registered.status_code == 201, registered.text
    return card


@pytest.mark.timeout(900)
async def test_use_what_was_just_written_200_times(any_mode: RunningPlatform) -> None:
    """200 rounds in a row of each sequence, by a client that sends no token and by one that
    sends the writes' tokens: not one refusal."""
    running = any_mode
    await an_item(running)
    card = await a_card(running)
    ecard = await register_ecard(running, 901)
    plain, with_tokens = Rounds(running, tokens=False), Rounds(running, tokens=True)
    # Four clients side by side, each doing its 200 rounds one after another.
    await asyncio.gather(
        *(r.payments(ROUNDS, ecard) for r in (plain, with_tokens)),
        *(r.venues(ROUNDS, card) for r in (plain, with_tokens)),
    )
    for rounds in (plain, with_tokens):
        assert rounds.outcomes == {
            "bill 201": ROUNDS,
            "ecard 201 settled None": ROUNDS,
            "verify 200 None": ROUNDS,
        }, f"tokens={rounds.tokens}"


# -- past the bound: 503 with Retry-After -------------------------------------------------------


@pytest.fixture(params=["embedded", "distributed"])
async def short_wait(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RunningPlatform]:
    """A platform whose requests wait at most 0.3 s for a view."""
    if request.param == "embedded":
        settings = await platforms.fresh_embedded_settings(tmp_path / "data")
    else:
        pg, kafka = server_fixture(request, "pg_url"), server_fixture(request, "kafka_bootstrap")
        settings = await platforms.fresh_distributed_settings(pg, kafka)
    settings = dataclasses.replace(settings, consistency_wait_seconds=0.3)
    running, _ = await platforms.start_platform(settings, ("catalog", "payments"))
    yield running
    await platforms.stop_platform(running)


async def test_a_view_held_back_answers_503_with_retry_after(short_wait: RunningPlatform) -> None:
    running = short_wait
    payments = running.runtime("payments")
    (view,) = [r for r in payments.projections if r.source.reads("catalog")]

    fetching = asyncio.Event()

    async def held_back(max_events: int, timeout: float) -> list[Any]:
        fetching.set()
        await asyncio.sleep(timeout)
        return []  # the view stands still

    view.source.fetch = held_back  # type: ignore[method-assign]
    await asyncio.wait_for(fetching.wait(), 10)  # the fetch in flight before the patch is over
    await an_item(running)
    merchant_id = f"m-{uuid.uuid4().hex[:10]}"
    body = {"merchant_id": merchant_id, "name": "商户", "jurisdiction": JURISDICTION, "item_id": PAY_ITEM}
    registered = await running.client.post("/catalog/v1/merchants", json=body, headers=running.admin)
    bill = {"merchant_id": merchant_id, "bill_ref": "r-1", "amount_fen": 100}

    # With the token: not handled until the view covers it; past the bound, 503.
    sent = {**running.admin, HEADER: token(registered)}
    with_token = await running.client.post("/payments/v1/bills", json=bill, headers=sent)
    # Without: the refusal "no such merchant" is not given on a view that is behind; 503 instead.
    without = await running.client.post("/payments/v1/bills", json=bill, headers=running.admin)
    for answer in (with_token, without):
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert int(answer.headers["Retry-After"]) >= 1
    # A token that is not one is a 400, not a wait.
    bad = await running.client.get("/payments/v1/bills/x", headers={**running.admin, HEADER: "catalog:x"})
    assert bad.status_code == 400 and bad.json()["type"].endswith("bad-consistency-token")


# -- a read model served from a snapshot -----------------------------------------------------------


@pytest.fixture
async def catalog_and_reporting(tmp_path: Path) -> AsyncIterator[RunningPlatform]:
    settings = await platforms.fresh_embedded_settings(tmp_path / "data")
    running, _ = await platforms.start_platform(settings, ("catalog", "reporting"))
    yield running
    await platforms.stop_platform(running)


async def test_a_report_with_a_token_reflects_the_write_even_before_the_snapshot_worker_runs(
    catalog_and_reporting: RunningPlatform,
) -> None:
    """Reporting answers from a snapshot its worker refreshes every 0.25 s. Held off here (the
    worker never finds it stale), the answer to a request whose token was covered must still
    include the write: the snapshot is refreshed for it."""
    running = catalog_and_reporting
    state = running.runtime("reporting").app.state.reporting
    await state.refresh()
    state.stale = lambda: False  # the worker is not going to refresh it
    item = {
        "item_id": "500106:902",
        "kind": "service",
        "name": "一卡通游泳馆",
        "department": "区体育局",
        "card_forms": ["physical"],
        "categories": ["identity"],
        "plan": {"2026": 2},
    }
    created = await running.client.post("/catalog/v1/items", json=item, headers=running.admin)
    report = await running.client.get(
        "/reporting/v1/progress", params={"year": 2026}, headers={**running.admin, HEADER: token(created)}
    )
    assert report.status_code == 200, report.text
    assert "500106:902" in {r["item_id"] for r in report.json()["rows"]}

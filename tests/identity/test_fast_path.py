"""The plain ASGI path for verifications (entrypoints/fast.py) answers as FastAPI's route does.

A body sent as `application/json` is answered by the fast path; the same body sent as
`application/json; charset=utf-8` goes on to FastAPI's route. Both must give the same status,
headers and body (the verification id and the consistency token aside, which are per request).
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
from onecard_identity.entrypoints.fast import FastVerifications

from tests.support.platform import RunningPlatform

from .helpers import TERMINAL, VENUE, make_ssn, register, seed_venue, venue_headers

PATH = "/identity/v1/verifications"
FAST, FASTAPI = "application/json", "application/json; charset=utf-8"
PER_REQUEST = {"date", "onecard-consistency"}


async def _both(
    running: RunningPlatform, body: Any, headers: dict[str, str]
) -> tuple[httpx.Response, httpx.Response]:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    answers = [
        await running.client.post(PATH, content=content, headers={**headers, "Content-Type": kind})
        for kind in (FAST, FASTAPI)
    ]
    return answers[0], answers[1]


def _fast_path(running: RunningPlatform) -> FastVerifications:
    layer: Any = running.runtime("identity").app.middleware_stack
    while not isinstance(layer, FastVerifications):
        layer = layer.app
    return layer


def _same(fast: httpx.Response, slow: httpx.Response) -> None:
    assert fast.status_code == slow.status_code, (fast.text, slow.text)
    strip = lambda r: [(k, v) for k, v in r.headers.multi_items() if k not in PER_REQUEST]  # noqa: E731
    if fast.status_code == 200:
        a, b = fast.json(), slow.json()
        assert a.pop("verification_id") != b.pop("verification_id")
        assert a == b
        assert [k for k, _ in strip(fast)] == [k for k, _ in strip(slow)]
        assert fast.headers["content-type"] == slow.headers["content-type"] == "application/json"
        assert ("onecard-consistency" in fast.headers) == ("onecard-consistency" in slow.headers)
    else:
        assert fast.content == slow.content
        assert strip(fast) == strip(slow)


def _physical(card_no: str, ssn: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "venue_id": VENUE,
        "terminal_id": TERMINAL,
        "method": "physical",
        "card": {"card_no": card_no, "ssn": ssn, "name": "张三", "issuer_region": "500106"},
    }
    return {**body, **changes}


async def test_fast_path_answers_as_fastapi(embedded: RunningPlatform) -> None:
    app = embedded.runtime("identity").app
    assert any(m.cls is FastVerifications for m in app.user_middleware)
    await seed_venue(embedded)
    ssn = make_ssn(41)
    assert (await register(embedded, "F12345678", ssn)).status_code == 201
    venue = venue_headers(embedded)
    cases: list[tuple[Any, dict[str, str]]] = [
        (_physical("F12345678", ssn), venue),  # verified
        (_physical("F99999999", make_ssn(42)), venue),  # refused: unknown card
        (_physical("F12345678", ssn, venue_id="v-nowhere"), venue),  # 403: not this client's venue
        (_physical("F12345678", ssn, method="thumbprint"), venue),  # 422
        ({"venue_id": VENUE}, venue),  # 422
        ([1, 2], venue),  # 422
        (b'{"venue_id": ', venue),  # not JSON
        (_physical("F12345678", ssn), {**venue, "Idempotency-Key": "k" * 201}),  # 422
        (_physical("F12345678", ssn), embedded.admin),  # admin may verify
    ]
    for body, headers in cases:
        _same(*await _both(embedded, body, headers))
    # The verified and refused answers and the admin's came from the fast path, each case's
    # second request from FastAPI's route.
    assert _fast_path(embedded).answered == 3


async def test_fast_path_keeps_idempotency(embedded: RunningPlatform) -> None:
    await seed_venue(embedded)
    ssn = make_ssn(43)
    assert (await register(embedded, "G12345678", ssn)).status_code == 201
    headers = {**venue_headers(embedded), "Idempotency-Key": "fast-1"}
    first, retry = await _both(embedded, _physical("G12345678", ssn), headers)
    assert first.status_code == retry.status_code == 200
    assert first.json() == retry.json()  # the retry through FastAPI is told the first answer
    other = await embedded.client.post(PATH, json=_physical("G12345678", make_ssn(44)), headers=headers)
    assert other.status_code == 409

"""The upload path's parts in turns give exactly what the one-call versions give: the parsed body
(and json.loads's error, message and position) and the Idempotency-Key's request hash."""

from __future__ import annotations

import json

import pytest
from onecard_service.idempotency import request_hash, request_hash_in_turns
from onecard_service.uploads import json_in_turns

from tests.support.people import person

ROWS = [person(i) for i in range(1203)]
TEXTS = [
    '{"payees": [1, 2 , {"a": [1,2]}, "x"] , "k" : null}',
    '{"payees": [{"a": 1}, {"b" 2}]}',
    "[]", "{}", " [ ] ", "3", '"s"', "[1,]", '{"a":1,}', '{"a" 1}', "{a:1}", "[1 2]",
    '{"a":[1,2] "b":1}', "", " ", "[1] x", '{"a":[}', "\ufeff[1]", "[1, 2", '{"a": [1, 2]',
    '{"a": 1', "{", "[", "nul", '{"a":1,"a":2}', '{"a": [1,\n2],\n"b":  {"c": [1]}}',
]  # fmt: skip


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
async def test_json_in_turns_is_json_loads(text: str, encoding: str) -> None:
    raw = text.encode(encoding) if text else b""
    try:
        want: object = ("value", json.loads(raw))
    except json.JSONDecodeError as exc:
        want = ("error", exc.msg, exc.pos)
    try:
        got: object = ("value", await json_in_turns(raw))
    except json.JSONDecodeError as exc:
        got = ("error", exc.msg, exc.pos)
    assert got == want


async def test_a_large_upload_parses_as_json_loads() -> None:
    raw = json.dumps({"payees": ROWS}, ensure_ascii=False).encode()
    assert await json_in_turns(raw) == json.loads(raw)


@pytest.mark.parametrize(
    "payload",
    [
        {"payees": ROWS},
        {"payees": []},
        {"payees": ROWS[:500]},
        {"payees": ROWS[:501]},
        {"b": [1, 2], "a": {"z": 1, "y": [3]}, "payees": ROWS[:700]},
        {},
        {"payees": "x"},
    ],
)
async def test_request_hash_in_turns_is_request_hash(payload: dict[str, object]) -> None:
    assert await request_hash_in_turns(payload) == request_hash(payload)

"""Idempotency-Key handling for POSTs that move money or create batches.

The stored response is written in the same transaction as the effect it describes, so a retry
after a crash either finds both or neither. The same key with another body is a 409.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import Header
from onecard_events.model import utcnow
from onecard_events.sql import insert_for
from onecard_events.tables import idempotency_keys
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from .problems import Problem, conflict
from .uploads import Turns


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: Any


def request_hash(payload: Any) -> str:
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


HASHED_AT_ONCE = 500  # list elements serialised between two looks at the clock


async def request_hash_in_turns(payload: Mapping[str, Any], turns: Turns | None = None) -> str:
    """`request_hash(payload)`, the same digest, for a body with a large list member (a bulk
    upload): the same bytes are hashed, the list serialised a part at a time, in turns."""
    if not all(isinstance(name, str) for name in payload):
        return request_hash(payload)
    turns = turns or Turns()
    digest = hashlib.sha256(b"{")
    # orjson writes compact JSON: a dict's members, and a list's elements, joined by a bare comma.
    for n, name in enumerate(sorted(payload)):
        digest.update(b"," if n else b"")
        digest.update(orjson.dumps(name) + b":")
        value = payload[name]
        if not isinstance(value, list) or not value:
            digest.update(orjson.dumps(value, option=orjson.OPT_SORT_KEYS))
            continue
        for start in range(0, len(value), HASHED_AT_ONCE):
            part = orjson.dumps(value[start : start + HASHED_AT_ONCE], option=orjson.OPT_SORT_KEYS)
            digest.update(part[:-1] if start == 0 else b"," + part[1:-1])
            await turns.take()
        digest.update(b"]")
    digest.update(b"}")
    return digest.hexdigest()


# The header as routes declare it: its length rule is in the OpenAPI document, and checked there.
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200)]


def check_key(key: str | None) -> str | None:
    if key is not None and not (1 <= len(key) <= 200):
        raise Problem(400, "Idempotency-Key must be 1 to 200 characters")
    return key


async def lookup(conn: AsyncConnection, scope: str, key: str, digest: str) -> StoredResponse | None:
    row = (
        await conn.execute(
            select(idempotency_keys).where(idempotency_keys.c.scope == scope, idempotency_keys.c.key == key)
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != digest:
        raise conflict("Idempotency-Key was used before with a different request body")
    if row.status_code is None or row.response is None:
        raise conflict("a request with this Idempotency-Key is still in progress")
    return StoredResponse(row.status_code, orjson.loads(row.response))


async def remember(
    conn: AsyncConnection, scope: str, key: str, digest: str, status_code: int, body: Any
) -> None:
    await _insert(conn, scope, key, digest, status_code, orjson.dumps(body))


async def reserve(conn: AsyncConnection, scope: str, key: str, digest: str) -> None:
    """Claim a key with no response yet, for an effect that spans two transactions (a payment
    commits its start before the bank call and its outcome after). Until `complete`, a retry is
    told the request is in progress."""
    await _insert(conn, scope, key, digest, None, None)


async def _insert(
    conn: AsyncConnection, scope: str, key: str, digest: str, status: int | None, response: bytes | None
) -> None:
    row = {"scope": scope, "key": key, "request_hash": digest, "status_code": status, "response": response}
    await conn.execute(idempotency_keys.insert().values(**row, created_at=utcnow()))


async def claim(conn: AsyncConnection, keys: Sequence[tuple[str, str, str]]) -> set[tuple[str, str]]:
    """`reserve` of several (scope, key, digest) in one statement: returns the (scope, key) pairs
    this transaction claimed. A key another transaction is claiming makes PostgreSQL wait for it,
    then skip it; a key claimed before is skipped."""
    if not keys:
        return set()
    created_at = utcnow()
    rows = [
        {
            "scope": s,
            "key": k,
            "request_hash": d,
            "status_code": None,
            "response": None,
            "created_at": created_at,
        }
        for s, k, d in keys
    ]
    statement = (
        insert_for(conn, idempotency_keys)
        .values(rows)
        .on_conflict_do_nothing()
        .returning(idempotency_keys.c.scope, idempotency_keys.c.key)
    )
    return {(row.scope, row.key) for row in await conn.execute(statement)}


async def complete(conn: AsyncConnection, scope: str, key: str, status_code: int, body: Any) -> None:
    await complete_many(conn, [(scope, key, status_code, body)])


async def complete_many(conn: AsyncConnection, replies: Sequence[tuple[str, str, int, Any]]) -> None:
    """`complete` of several (scope, key, status, body), as one executemany."""
    if not replies:
        return
    t = idempotency_keys.c
    statement = (
        update(idempotency_keys)
        .where(t.scope == bindparam("s"), t.key == bindparam("k"))
        .values(status_code=bindparam("code"), response=bindparam("body"))
    )
    await conn.execute(
        statement,
        [{"s": s, "k": k, "code": code, "body": orjson.dumps(body)} for s, k, code, body in replies],
    )

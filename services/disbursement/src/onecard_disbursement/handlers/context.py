"""What every handler works with: the context, the caller's scope and the Idempotency-Key rule."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from onecard_events.database import Database
from onecard_events.store import EventStore
from onecard_service.auth import Principal
from onecard_service.freshness import ViewFreshness
from onecard_service.idempotency import check_key, lookup, remember, request_hash
from onecard_service.privacy import PersonalDataKeys
from sqlalchemy.ext.asyncio import AsyncConnection

from ..adapters.metrics import DisbursementMetrics
from ..domain.errors import forbidden


@dataclass
class Context:
    db: Database
    store: EventStore
    keys: PersonalDataKeys
    metrics: DisbursementMetrics
    # The catalogue view's catch-up, before a refusal that rests on it (unknown or retired item).
    views: ViewFreshness
    dispatch_nudge: asyncio.Event = field(default_factory=asyncio.Event)

    def beneficiary_key(self, ssn: str) -> str:
        return self.keys.keyed_hash(ssn, "holder")


def authorise(caller: Principal, department: str, jurisdiction: str) -> None:
    """Staff may act on any program; a department only on its own items (and jurisdiction)."""
    if caller.is_staff:
        return
    if caller.role != "department" or caller.department != department:
        raise forbidden("outside the caller's department")
    if caller.jurisdiction is not None and caller.jurisdiction != jurisdiction:
        raise forbidden("outside the caller's jurisdiction")


async def once(
    conn: AsyncConnection,
    scope: str,
    key: str | None,
    body: Any,
    effect: Callable[[], Awaitable[tuple[int, Any]]],
    *,
    digest: str | None = None,
) -> tuple[int, Any]:
    """Run `effect` unless this Idempotency-Key was seen with this body (then replay the answer).
    `conn` is the unit of work's: the answer is remembered in the effect's own transaction.
    `digest`: the body's `request_hash`, when the caller computed it (off the event loop)."""
    if check_key(key) is None:
        return await effect()
    assert key is not None
    digest = digest or request_hash(body)
    stored = await lookup(conn, scope, key, digest)
    if stored is not None:
        return stored.status_code, stored.body
    status, answer = await effect()
    await remember(conn, scope, key, digest, status, answer)
    return status, answer

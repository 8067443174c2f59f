"""What every handler works with, plus the helpers they share."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from onecard_events.database import Database
from onecard_events.store import EventStore
from onecard_service.auth import Principal
from onecard_service.idempotency import check_key, lookup, remember, request_hash
from onecard_service.privacy import PersonalDataKeys
from onecard_service.problems import Problem, not_found
from sqlalchemy import Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.batch import Batch, Figures
from ..metrics import DisbursementMetrics
from ..tables import batches

T = TypeVar("T")
# IN lists stay well below the drivers' bind-parameter limits (asyncpg: 32767).
CHUNK = 5000


@dataclass
class Context:
    db: Database
    store: EventStore
    keys: PersonalDataKeys
    metrics: DisbursementMetrics
    dispatch_nudge: asyncio.Event = field(default_factory=asyncio.Event)

    def beneficiary_key(self, ssn: str) -> str:
        return self.keys.keyed_hash(ssn, "holder")


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def authorise(caller: Principal, department: str, jurisdiction: str) -> None:
    """Staff may act on any program; a department only on its own items (and jurisdiction)."""
    if caller.is_staff:
        return
    if caller.role != "department" or caller.department != department:
        raise Problem(403, "outside the caller's department")
    if caller.jurisdiction is not None and caller.jurisdiction != jurisdiction:
        raise Problem(403, "outside the caller's jurisdiction")


async def once(
    conn: AsyncConnection,
    scope: str,
    key: str | None,
    body: Any,
    effect: Callable[[], Awaitable[tuple[int, Any]]],
) -> tuple[int, Any]:
    """Run `effect` unless this Idempotency-Key was seen with this body (then replay the answer)."""
    if check_key(key) is None:
        return await effect()
    assert key is not None
    digest = request_hash(body)
    stored = await lookup(conn, scope, key, digest)
    if stored is not None:
        return stored.status_code, stored.body
    status, answer = await effect()
    await remember(conn, scope, key, digest, status, answer)
    return status, answer


async def batch_row(conn: AsyncConnection, batch_id: str, *, lock: bool = False) -> Row[Any]:
    """The batch's row; `lock` holds it for the transaction, which serialises every change to
    the batch (its counters and its event stream) without optimistic retries."""
    query = select(batches).where(batches.c.batch_id == batch_id)
    row = (await conn.execute(query.with_for_update() if lock else query)).first()
    if row is None:
        raise not_found("batch", batch_id)
    return row


def to_batch(row: Row[Any]) -> Batch:
    figures = Figures(
        accepted=row.accepted,
        accepted_total_fen=row.accepted_total_fen,
        paid=row.paid,
        failed=row.failed,
        returned=row.returned,
        paid_total_fen=row.paid_total_fen,
    )
    return Batch(row.batch_id, row.status, row.control_count, row.control_total_fen, figures)


def figures_values(f: Figures) -> dict[str, int]:
    return {
        "accepted": f.accepted,
        "accepted_total_fen": f.accepted_total_fen,
        "paid": f.paid,
        "failed": f.failed,
        "returned": f.returned,
        "paid_total_fen": f.paid_total_fen,
    }


def rfc3339(moment: Any) -> str | None:
    if moment is None:
        return None
    text: str = moment.isoformat()
    return text.replace("+00:00", "Z") if moment.tzinfo else text + "Z"


def batch_view(row: Row[Any]) -> dict[str, Any]:
    f = to_batch(row).figures
    return {
        "batch_id": row.batch_id,
        "program_id": row.program_id,
        "item_id": row.item_id,
        "jurisdiction": row.jurisdiction,
        "period": row.period,
        "status": row.status,
        "control_count": row.control_count,
        "control_total_fen": row.control_total_fen,
        **figures_values(f),
        "pending": f.pending,
        "created_at": rfc3339(row.created_at),
        "submitted_at": rfc3339(row.submitted_at),
        "completed_at": rfc3339(row.completed_at),
    }

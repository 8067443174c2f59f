"""How depth moved: every depth row as it stood at the end of each day, kept by the depth
projection itself so that a replay of the events writes the same history (issue 16).

A day closes when the projection meets the first event recorded on a later day (Chongqing's
date of the event's `recorded_at`, the store's time, the same on every replay): the facts applied
so far are flushed, the depth rows computed from them as at the end of the closed day, and kept
in `rpt_depth_daily`. That costs one snapshot per day of events, not one per batch. The day still
open is not stored: the console draws it from the live snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from onecard_events.model import RecordedEvent
from onecard_events.sql import chunks, upsert, upsert_rows
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from ..domain.depth import Filters, depth_rows
from ..domain.levels import LOCAL
from . import tables as t
from .depth_projection import DepthProjection
from .queries import load_snapshot

OPEN_DAY = "open"
HISTORY_COLUMNS = ("level", "planned_level", "status", "ratio")


def local_day(moment: datetime) -> str:
    return moment.astimezone(LOCAL).date().isoformat()


def end_of_day(day: str) -> datetime:
    start = datetime.combine(date.fromisoformat(day), time(), LOCAL)
    return start + timedelta(days=1) - timedelta(microseconds=1)


class DepthWithHistory(DepthProjection):
    """The depth projection, closing a day of depth history whenever the events' day moves on."""

    def __init__(self) -> None:
        super().__init__()
        self.open_day: str | None = None  # None: not read from the table yet
        self._open_until = datetime.min.replace(tzinfo=UTC)  # the open day's last moment

    async def apply_batch(self, conn: AsyncConnection, events: Sequence[RecordedEvent]) -> None:
        # One comparison per event on the hot path: the day is only worked out when it may
        # change, and the events before a day change are applied before it closes the day.
        start = 0
        for n, event in enumerate(events):
            if event.recorded_at > self._open_until:
                await super().apply_batch(conn, events[start:n])
                await self._day_of(conn, local_day(event.recorded_at))
                start = n
        await super().apply_batch(conn, events[start:])

    async def _day_of(self, conn: AsyncConnection, day: str) -> None:
        if self.open_day is None:
            self.open_day = await _stored_open_day(conn) or day
        if day > self.open_day:
            await self.close_day(conn, self.open_day)
            self.open_day = day
            await conn.execute(upsert(conn, t.depth_open_day, {"name": OPEN_DAY, "day": day}, ["name"]))
        self._open_until = end_of_day(self.open_day)

    async def close_day(self, conn: AsyncConnection, day: str) -> None:
        """Keep every depth row as the facts applied so far give it at the end of `day`."""
        await self.flush(conn)
        at = end_of_day(day)
        snap = await load_snapshot(conn, at, at)
        rows = [
            {"day": day, **{k: r[k] for k in ("item_id", "jurisdiction", "category", *HISTORY_COLUMNS)}}
            for r in depth_rows(snap, Filters(year=at.year))
        ]
        keys = ["day", "item_id", "jurisdiction", "category"]
        for part in chunks(rows, 500):
            await conn.execute(upsert_rows(conn, t.depth_daily, part, keys))

    def discard(self) -> None:
        super().discard()
        self._forget_day()  # the failed batch's day change was rolled back with it

    async def reset(self, conn: AsyncConnection) -> None:
        await super().reset(conn)
        for table in t.HISTORY:
            await conn.execute(delete(table))
        self._forget_day()

    def _forget_day(self) -> None:
        self.open_day = None
        self._open_until = datetime.min.replace(tzinfo=UTC)


async def _stored_open_day(conn: AsyncConnection) -> str | None:
    query = select(t.depth_open_day.c.day).where(t.depth_open_day.c.name == OPEN_DAY)
    found: str | None = (await conn.execute(query)).scalar()
    return found


async def depth_history(
    conn: AsyncConnection, item_ids: list[str], since: str
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Per (item, jurisdiction): the `overall` row of each closed day from `since` on, oldest first."""
    d = t.depth_daily.c
    query = (
        select(d.day, d.item_id, d.jurisdiction, d.level, d.planned_level, d.status)
        .where(d.item_id.in_(item_ids), d.day >= since, d.category == "overall")
        .order_by(d.day)
    )
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in await conn.execute(query):
        point = {"day": r.day, "level": r.level, "planned_level": r.planned_level, "status": r.status}
        out.setdefault((r.item_id, r.jurisdiction), []).append(point)
    return out

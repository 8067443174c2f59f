"""A test event and a read model of it for tests of the event plumbing itself (relay, runners)."""

from __future__ import annotations

from typing import ClassVar

from onecard_events.model import DomainEvent, RecordedEvent
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


class Counted(DomainEvent):
    event_type: ClassVar[str] = "test.counted"
    n: int


class AppliedOnce:
    """Read model whose primary key turns a second application of an event into an error."""

    name = "applied_once"
    TABLE = "CREATE TABLE applied (event_id text PRIMARY KEY, stream_id text, n int)"

    async def apply(self, conn: AsyncConnection, event: RecordedEvent) -> None:
        await conn.execute(
            text("INSERT INTO applied (event_id, stream_id, n) VALUES (:e, :s, :n)"),
            {"e": event.event_id, "s": event.stream_id, "n": event.data["n"]},
        )

    async def reset(self, conn: AsyncConnection) -> None:
        await conn.execute(text("DELETE FROM applied"))

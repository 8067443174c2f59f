"""Events as the domain sees them and as the store records them.

A domain event is a pydantic model with a type name and a schema version. The store records it
with its stream, its version in that stream and its place in the global read order.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from .times import rfc3339
from .times import utcnow as utcnow


class DomainEvent(BaseModel):
    """Base of every event a service records. Subclasses set `event_type` and `schema_version`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1


@dataclass(frozen=True, order=True, slots=True)  # slots: one object per event fewer for the GC
class Position:
    """Place of an event in a store's global read order.

    `tx_id` is the writing transaction's id on PostgreSQL (0 on SQLite, where writers are
    serialised anyway); `position` is the row's sequence number. Readers order by the pair.
    """

    tx_id: int = 0
    position: int = 0

    def as_sequence(self) -> str:
        """Lexicographically ordered string, for the CloudEvents `sequence` extension."""
        return f"{self.tx_id:020d}{self.position:020d}"

    @classmethod
    def from_sequence(cls, sequence: str) -> Position:
        return cls(int(sequence[:20]), int(sequence[20:]))


START = Position(0, 0)


@dataclass(frozen=True)
class NewEvent:
    """An event about to be appended: the domain event plus its id and metadata.

    Give `event_id` when a retried command must not record twice (derive it from the command);
    without one the event gets a fresh random id, which the store knows cannot be stored already.
    `fresh_id=True` with an `event_id` says the same of an id the caller just made (a new uuid4),
    so the store skips its look-up of already stored ids for it.
    """

    event: DomainEvent
    event_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.event_id:
            object.__setattr__(self, "event_id", str(uuid.uuid4()))
            object.__setattr__(self, "fresh_id", True)

    fresh_id: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class RecordedEvent:
    """An event as it is stored and travels: payload as a dict of the current schema version."""

    event_id: str
    event_type: str
    schema_version: int
    stream_id: str
    stream_version: int
    position: Position
    recorded_at: datetime
    data: dict[str, Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def time_rfc3339(self) -> str:
        return rfc3339(self.recorded_at)

    @classmethod
    def trusted(cls, **fields: Any) -> RecordedEvent:
        """A record from every one of its fields, already of the right types, without the frozen
        dataclass's checked `__init__` (one `object.__setattr__` per field): a replay builds
        millions of them, and this is about five times faster. Still frozen afterwards."""
        record = object.__new__(cls)
        record.__dict__.update(fields)
        return record

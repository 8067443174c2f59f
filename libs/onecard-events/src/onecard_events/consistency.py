"""Read your own writes across services: what a write committed, as a token a client sends back.

A write's answer names each stream it appended to as a `Mark`: the service, the position of the
stream's last event in that service's store, and the stream's Kafka partitioning hash. A view
covers a mark when it has applied that position from the service's log (embedded: the store's
gap-free order, so every event up to it too) or, fed from Kafka, from the partition the stream's
events go to (per-partition order is the store's order: the relay publishes in it, batch after
acknowledged batch, with an idempotent producer).

On the wire a mark is `<service>:<tx_id>.<position>.<hash hex>`; several are joined by commas,
the header's list syntax. A mark with no hash (`<service>:<tx_id>.<position>`) stands for the
store as a whole: a view covers it once it has caught up with the service's head.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

from .model import Position, RecordedEvent

HEADER = "Onecard-Consistency"
_MARK = re.compile(r"^([a-z]{1,32}):(\d{1,20})\.(\d{1,20})(?:\.([0-9a-f]{1,8}))?$")


class MalformedMark(ValueError):
    pass


@dataclass(frozen=True)
class Mark:
    service: str
    position: Position
    # murmur2(stream id) & 0x7fffffff: the Kafka default partitioner's hash of the record key.
    key_hash: int | None = None

    def encode(self) -> str:
        head = f"{self.service}:{self.position.tx_id}.{self.position.position}"
        return head if self.key_hash is None else f"{head}.{self.key_hash:x}"

    @classmethod
    def decode(cls, text: str) -> Mark:
        found = _MARK.match(text.strip())
        if found is None:
            raise MalformedMark(f"not a consistency token: {text.strip()[:80]!r}")
        service, tx, pos, key = found.groups()
        return cls(service, Position(int(tx), int(pos)), int(key, 16) if key else None)


def key_hash(stream_id: str) -> int:
    return murmur2(stream_id.encode()) & 0x7FFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 (the Java client's `Utils.murmur2`, which aiokafka's default partitioner
    copies, unsigned as there). Written here so the embedded mode never imports aiokafka."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail = length % 4
    base = length - tail
    if tail == 3:
        h ^= data[base + 2] << 16
    if tail >= 2:
        h ^= data[base + 1] << 8
    if tail >= 1:
        h ^= data[base]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def partition_of(hash_: int, partitions: int) -> int:
    """The partition the default partitioner picks for a key with this hash."""
    return hash_ % partitions


def encode(marks: Iterable[Mark]) -> str:
    return ",".join(m.encode() for m in marks)


def decode(values: Sequence[str]) -> list[Mark]:
    """Marks from one or more header values (each a comma-separated list); raises MalformedMark."""
    marks = [Mark.decode(part) for value in values for part in value.split(",") if part.strip()]
    if len(marks) > 64:
        raise MalformedMark("at most 64 consistency tokens per request")
    return marks


def marks_of(service: str, recorded: Iterable[RecordedEvent]) -> list[Mark]:
    """One mark per stream: its last event's position."""
    last: dict[str, Position] = {}
    for r in recorded:
        last[r.stream_id] = max(last.get(r.stream_id, r.position), r.position)
    return [Mark(service, p, key_hash(s)) for s, p in last.items()]


@dataclass
class Written:
    """What the current request committed; `early`: its answer need not wait for publication (a
    hot path whose events no other service checks requests against: identity's verifications)."""

    marks: list[Mark] = field(default_factory=list)
    early: bool = False


# Collected where the request commits (the unit of work, or a handler whose commit ran in another
# task, such as identity's group commit). Mutated, never re-set, below the middleware: a handler
# may run in a copy of the context.
_written: ContextVar[Written | None] = ContextVar("onecard_written", default=None)


def collect() -> Written:
    """Start collecting the current request's commits."""
    written = Written()
    _written.set(written)
    return written


def note(marks: Iterable[Mark]) -> None:
    if (written := _written.get()) is not None:
        written.marks.extend(marks)


def note_recorded(service: str, recorded: Sequence[RecordedEvent]) -> None:
    if recorded and _written.get() is not None:
        note(marks_of(service, recorded))


def note_stream(service: str, stream_id: str, position: Position) -> None:
    note([Mark(service, position, key_hash(stream_id))])


# Set while a request whose tokens were covered is handled: a read model served from a cached
# snapshot refreshes it first, so the answer reflects what the tokens named.
_covered: ContextVar[bool] = ContextVar("onecard_covered", default=False)


@contextmanager
def covering() -> Iterator[None]:
    reset = _covered.set(True)
    try:
        yield
    finally:
        _covered.reset(reset)


def covered() -> bool:
    return _covered.get()


def answer_early() -> None:
    if (written := _written.get()) is not None:
        written.early = True

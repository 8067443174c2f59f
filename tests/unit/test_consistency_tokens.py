"""Consistency tokens: their wire form, and the partition a mark's stream goes to (issue 13)."""

from __future__ import annotations

import random

import pytest
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as kafka_murmur2
from onecard_events import consistency
from onecard_events.consistency import MalformedMark, Mark, key_hash, murmur2, partition_of
from onecard_events.model import Position


def test_murmur2_is_kafkas() -> None:
    rng = random.Random(7)
    keys = [b"", b"a", b"ab", b"abc", b"abcd", "bill-账单".encode()]
    keys += [rng.randbytes(rng.randrange(1, 80)) for _ in range(500)]
    for key in keys:
        assert murmur2(key) == kafka_murmur2(key), key


def test_a_marks_partition_is_the_default_partitioners() -> None:
    partitions = list(range(6))
    for i in range(300):
        stream = f"merchant-m-{i:05d}"
        expected = DefaultPartitioner()(stream.encode(), partitions, partitions)
        assert partition_of(key_hash(stream), len(partitions)) == expected


def test_tokens_round_trip_and_list() -> None:
    marks = [
        Mark("catalog", Position(0, 17), key_hash("merchant-m-1")),
        Mark("identity", Position(123456, 9), key_hash("card-x")),
        Mark("payments", Position(0, 3)),  # the whole store
    ]
    header = consistency.encode(marks)
    assert consistency.decode([header]) == marks
    assert consistency.decode([consistency.encode(marks[:1]), consistency.encode(marks[1:])]) == marks
    assert "merchant" not in header and "card" not in header  # stream ids never travel


@pytest.mark.parametrize(
    "value",
    ["catalog", "catalog:1", "catalog:1.x", "Catalog:1.2", "catalog:1.2.zz", "a:1.2.123456789", "x" * 500],
)
def test_malformed_tokens_are_refused(value: str) -> None:
    with pytest.raises(MalformedMark):
        consistency.decode([value])


def test_at_most_64_marks() -> None:
    with pytest.raises(MalformedMark):
        consistency.decode([",".join(["catalog:0.1"] * 65)])


def test_what_a_request_committed_is_collected_per_stream() -> None:
    written = consistency.collect()
    consistency.note_stream("identity", "verification-1", Position(0, 5))
    consistency.note_stream("identity", "verification-2", Position(0, 6))
    consistency.answer_early()
    assert [m.position for m in written.marks] == [Position(0, 5), Position(0, 6)]
    assert written.early

"""The chaos suite's check of the topics: a copy of an event published again (same ce_id, partition,
sequence and content: ADR 0003's at-least-once tail, which consumers drop) is accepted; two
different messages under one ce_id are not."""

from __future__ import annotations

from tests.support.chaos import Tally


def _headers(ce_id: str, sequence: str, *, traceparent: str = "00-a-b-01") -> list[tuple[str, bytes]]:
    return [
        ("ce_id", ce_id.encode()),
        ("ce_type", b"onecard.identity.verification_recorded"),
        ("ce_sequence", sequence.encode()),
        ("traceparent", traceparent.encode()),
    ]


def test_a_republished_copy_is_accepted_and_different_messages_under_one_id_are_not() -> None:
    tally = Tally()
    tally.add(0, 10, b"v-1", b'{"verified":true}', _headers("e1", "0001"))
    tally.add(0, 11, b"v-2", b'{"verified":true}', _headers("e2", "0002"))
    # The relay's tail after a crash: the same message again (a new publish span, so a new trace).
    tally.add(0, 12, b"v-1", b'{"verified":true}', _headers("e1", "0001", traceparent="00-c-d-01"))
    assert list(tally.republished()) == ["e1"]
    assert tally.conflicting() == {}

    tally.add(0, 13, b"v-2", b'{"verified":true}', _headers("e2", "0003"))  # another sequence
    tally.add(1, 5, b"v-3", b'{"verified":true}', _headers("e3", "0004"))
    tally.add(1, 6, b"v-3", b'{"verified":false}', _headers("e3", "0004"))  # other content
    tally.add(1, 7, b"v-4", b"{}", _headers("e4", "0005"))
    tally.add(0, 14, b"v-4", b"{}", _headers("e4", "0005"))  # another partition
    assert list(tally.republished()) == ["e1"]
    assert sorted(tally.conflicting()) == ["e2", "e3", "e4"]
    assert sorted(tally.duplicates()) == ["e1", "e2", "e3", "e4"]

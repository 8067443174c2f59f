"""The shared test support itself (tests/support): ids valid, names unique, waiting bounded."""

from __future__ import annotations

import socket

import pytest
from onecard_service.privacy import ssn_check_character

from tests.support import people
from tests.support.names import unique
from tests.support.ports import free_port
from tests.support.waiting import eventually


def test_resident_ids_are_valid_and_distinct() -> None:
    ids = [people.distinct_ssn(i) for i in range(0, 2_000_000, 997)]
    assert len(set(ids)) == len(ids)
    for ssn in [*ids, people.ssn(7), people.ssn(999, "510104", "19800101")]:
        assert len(ssn) == 18 and ssn[17] == ssn_check_character(ssn[:17])


def test_cards_and_payees() -> None:
    assert people.card(42, "500103", prefix="A") == {
        "card_no": "A00000042",
        "ssn": people.ssn(42, "500103"),
        "name": "张三",
        "issuer_region": "500103",
    }
    assert people.card_no(3, "E2E", digits=6) == "E2E000003"
    payee = people.person(5, ref="R-5", amount=100)
    assert payee["reference_id"] == "R-5" and payee["ssn"] == people.distinct_ssn(5)
    assert payee["card_no"] == "C00000005" and payee["channel"] == "card_account"


def test_unique_names_and_free_ports() -> None:
    assert unique("db") != unique("db") and unique("db").startswith("db_")
    with socket.socket() as s:
        s.bind(("127.0.0.1", free_port()))


async def test_eventually_returns_the_value_or_fails_in_time() -> None:
    calls = []

    async def third_time() -> int | None:
        calls.append(1)
        return len(calls) if len(calls) >= 3 else None

    assert await eventually(third_time, timeout=5, interval=0.01) == 3

    async def never() -> bool:
        return False

    with pytest.raises(AssertionError, match="the thing: condition not met"):
        await eventually(never, timeout=0.05, interval=0.01, what="the thing")

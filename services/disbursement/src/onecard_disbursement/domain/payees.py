"""Screening the payees of one call: per-row validation, duplicates, and the batch's control room.

Every row is judged on its own: a bad row is rejected with a reason and the others go on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from onecard_service.privacy import ssn_is_valid

CHANNELS = frozenset({"card_account", "other_account", "cash"})
MAX_AMOUNT_FEN = 10**10
REFERENCE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")
CARD_NO = re.compile(r"^[A-Z0-9]{9}$")


# A call holds up to 50,000 candidates and as many sealed rows: as tuples of plain values they
# leave the garbage collector's tracking, so its full passes, which pause the event loop, do not
# walk them (as frozen dataclasses they made those pauses 100+ ms long).


class Candidate(NamedTuple):
    """A well-formed payee, before the checks against what was accepted before."""

    reference_id: str
    ssn: str
    card_no: str
    name: str
    amount_fen: int
    channel: str
    beneficiary_key: str


class Sealed(NamedTuple):
    """What is kept of a candidate: masks for display, the account sealed for the bank."""

    ssn_masked: str
    card_no_masked: str
    name_masked: str
    account_sealed: str


class Rejection(NamedTuple):
    reference_id: str
    reason: str


@dataclass(frozen=True)
class Room:
    """What the batch may still take before its control count and total are exceeded."""

    count: int
    total_fen: int


def _text(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    return value.strip() if isinstance(value, str) else ""


def _amount(raw: Mapping[str, Any]) -> int | None:
    value = raw.get("amount_fen")
    # bool is an int in Python; a JSON true is not an amount.
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 < value <= MAX_AMOUNT_FEN else None


def check_row(raw: Any, key_of: Callable[[str], str]) -> Candidate | Rejection:
    """Validate one submitted row; `key_of` turns an ssn into the beneficiary key."""
    if not isinstance(raw, Mapping):
        return Rejection("", "invalid_row")
    reference_id = _text(raw, "reference_id")
    if not REFERENCE_ID.match(reference_id):
        return Rejection(reference_id[:64], "invalid_reference_id")
    ssn = _text(raw, "ssn").upper()
    channel = _text(raw, "channel")
    card_no = _text(raw, "card_no").upper()
    name = _text(raw, "name")
    amount = _amount(raw)
    reason = (
        "invalid_ssn"
        if not ssn_is_valid(ssn)
        else "invalid_channel"
        if channel not in CHANNELS
        # Only the card account needs the card; other channels may carry it for information.
        else "invalid_card_no"
        if (card_no or channel == "card_account") and not CARD_NO.match(card_no)
        else "invalid_name"
        if not name or len(name) > 100
        else "invalid_amount"
        if amount is None
        else None
    )
    if reason is not None or amount is None:
        return Rejection(reference_id, reason or "invalid_amount")
    return Candidate(reference_id, ssn, card_no, name, amount, channel, key_of(ssn))


def screen(
    rows: Iterable[Any],
    key_of: Callable[[str], str],
    references: set[str] | None = None,
    people: set[str] | None = None,
) -> tuple[list[Candidate], list[Rejection]]:
    """Validate rows and reject repeats inside the call itself (same reference or same person).
    A call screened in parts passes the same `references` and `people` to each part."""
    candidates: list[Candidate] = []
    rejected: list[Rejection] = []
    references = set() if references is None else references
    people = set() if people is None else people
    for raw in rows:
        checked = check_row(raw, key_of)
        if isinstance(checked, Rejection):
            rejected.append(checked)
        elif checked.reference_id in references or checked.beneficiary_key in people:
            rejected.append(Rejection(checked.reference_id, "duplicate"))
        else:
            references.add(checked.reference_id)
            people.add(checked.beneficiary_key)
            candidates.append(checked)
    return candidates, rejected


def admit(
    candidates: Iterable[Candidate], used_references: set[str], claimed_people: set[str], room: Room
) -> tuple[list[Candidate], list[Rejection]]:
    """Accept candidates in order, rejecting references used before anywhere, people already
    claimed in the program and period, and whatever would overrun the batch's control figures
    (an overrun is caught at the row that causes it, not only at submission)."""
    accepted: list[Candidate] = []
    rejected: list[Rejection] = []
    count, total = room.count, room.total_fen
    for c in candidates:
        if c.reference_id in used_references or c.beneficiary_key in claimed_people:
            rejected.append(Rejection(c.reference_id, "duplicate"))
        elif count < 1 or c.amount_fen > total:
            rejected.append(Rejection(c.reference_id, "exceeds_control"))
        else:
            count -= 1
            total -= c.amount_fen
            accepted.append(c)
    return accepted, rejected

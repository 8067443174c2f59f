"""Applying bank results: which results change a payee, which repeat, which conflict.

A result is final per payee and outcome: the same result twice changes nothing. The only move out
of a final state is paid -> returned (the receiving account sent the money back later).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

OUTCOMES = frozenset({"paid", "failed", "returned"})


@dataclass(frozen=True)
class Result:
    reference_id: str
    status: str
    reason: str = ""


@dataclass(frozen=True)
class PayeeState:
    reference_id: str
    batch_id: str
    batch_status: str
    status: str
    amount_fen: int


@dataclass(frozen=True)
class Change:
    reference_id: str
    batch_id: str
    previous: str
    outcome: str
    reason: str
    amount_fen: int


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[dict[str, str]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def verdict(batch_status: str, current: str, outcome: str) -> str:
    """'apply', 'same' or a conflict reason."""
    if batch_status == "open":
        return "batch_not_submitted"
    if current == outcome:
        return "same"
    if current == "pending" or (current == "paid" and outcome == "returned"):
        return "apply"
    return f"already_{current}"


def plan(results: Iterable[Result], payees: Mapping[str, PayeeState]) -> Plan:
    """Decide every result of one call against the payees' current states, in order."""
    out = Plan()
    current = {ref: p.status for ref, p in payees.items()}
    for r in results:
        payee = payees.get(r.reference_id)
        if payee is None:
            out.unknown.append(r.reference_id)
            continue
        decision = verdict(payee.batch_status, current[r.reference_id], r.status)
        if decision == "same":
            out.unchanged.append(r.reference_id)
        elif decision == "apply":
            out.changes.append(
                Change(
                    r.reference_id,
                    payee.batch_id,
                    current[r.reference_id],
                    r.status,
                    r.reason,
                    payee.amount_fen,
                )
            )
            current[r.reference_id] = r.status
        else:
            out.conflicts.append({"reference_id": r.reference_id, "status": r.status, "reason": decision})
    return out

"""Reconciling one batch: payee rows, the event log, the bank's results, the bank's own statement
and the batch's counters must tell the same story. Pure: the handler gathers the sources."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .batch import Figures

MAX_LISTED = 1000


def final_of(outcomes: Iterable[str]) -> str:
    """The standing outcome of a set of results for one payee; contradictions show as such."""
    seen = set(outcomes)
    if "returned" in seen and seen <= {"paid", "returned"}:
        return "returned"
    if len(seen) == 1:
        return seen.pop()
    return "conflicting" if seen else "pending"


def tally(statuses: Mapping[str, str], amounts: Mapping[str, int]) -> Figures:
    f = Figures(accepted=len(statuses), accepted_total_fen=sum(amounts.get(r, 0) for r in statuses))
    for ref, status in statuses.items():
        if status in ("paid", "failed", "returned"):
            f = f.settle("pending", status, amounts.get(ref, 0))
    return f


@dataclass
class Sources:
    counters: Figures
    payees: dict[str, str]
    amounts: dict[str, int]
    events: dict[str, str]
    bank_results: dict[str, str]
    statement: dict[str, str]
    dispatched: bool


@dataclass
class Report:
    mismatches: list[dict[str, Any]] = field(default_factory=list)
    count: int = 0
    in_transit: int = 0

    def add(self, check: str, **detail: Any) -> None:
        self.count += 1
        if len(self.mismatches) < MAX_LISTED:
            self.mismatches.append({"check": check, **detail})


def _per_payee(s: Sources, report: Report) -> None:
    for ref in sorted(set(s.payees) | set(s.events) | set(s.bank_results)):
        ours, logged = s.payees.get(ref, "missing"), s.events.get(ref, "missing")
        if ours != logged:
            report.add("payee_vs_events", reference_id=ref, payee=ours, events=logged)
        received = s.bank_results.get(ref, "pending")
        if ours != received:
            report.add("payee_vs_bank_results", reference_id=ref, payee=ours, bank_results=received)


def _statement(s: Sources, report: Report) -> None:
    for ref, status in s.payees.items():
        at_bank = s.statement.get(ref)
        if at_bank is None:
            if s.dispatched:
                report.add("not_at_bank", reference_id=ref, payee=status)
        elif status == "pending":
            report.in_transit += 1  # the bank decided, its result is on its way
        elif status != at_bank and not (at_bank == "paid" and status == "returned"):
            report.add("payee_vs_bank_statement", reference_id=ref, payee=status, bank=at_bank)
    for ref in set(s.statement) - set(s.payees):
        report.add("unknown_at_bank", reference_id=ref, bank=s.statement[ref])


def reconcile(s: Sources) -> tuple[Report, dict[str, Figures]]:
    report = Report()
    figures = {
        "counters": s.counters,
        "payees": tally(s.payees, s.amounts),
        "events": tally(s.events, s.amounts),
        "bank_results": tally({r: s.bank_results.get(r, "pending") for r in s.payees}, s.amounts),
    }
    for name, f in figures.items():
        if name != "counters" and f != s.counters:
            report.add(f"counters_vs_{name}", counters=s.counters.__dict__, **{name: f.__dict__})
    _per_payee(s, report)
    _statement(s, report)
    return report, figures

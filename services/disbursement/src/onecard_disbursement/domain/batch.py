"""A batch's figures and the rules that move it from open to submitted to completed.

A state-stored aggregate (ADR 0010): `Batch` is read from the batch's row, not folded from its
event stream; the row and the events move together in one transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

OPEN, SUBMITTED, COMPLETED = "open", "submitted", "completed"
IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
# A month, quarter, half-year or year: the period a person may be paid once for.
PERIOD = re.compile(r"^\d{4}(-(0[1-9]|1[0-2]|Q[1-4]|H[12]))?$")


@dataclass(frozen=True)
class Figures:
    """Running counters of one batch (kept in its row, checked by reconciliation)."""

    accepted: int = 0
    accepted_total_fen: int = 0
    paid: int = 0
    failed: int = 0
    returned: int = 0
    paid_total_fen: int = 0

    @property
    def pending(self) -> int:
        return self.accepted - self.paid - self.failed - self.returned

    def settle(self, previous: str, outcome: str, amount_fen: int) -> Figures:
        """Counters after one payee moved from `previous` to `outcome`."""
        paid, failed, returned, paid_total = self.paid, self.failed, self.returned, self.paid_total_fen
        if previous == "paid":
            paid, paid_total = paid - 1, paid_total - amount_fen
        if outcome == "paid":
            paid, paid_total = paid + 1, paid_total + amount_fen
        failed += outcome == "failed"
        returned += outcome == "returned"
        return replace(self, paid=paid, failed=failed, returned=returned, paid_total_fen=paid_total)


@dataclass(frozen=True)
class Batch:
    batch_id: str
    status: str
    control_count: int
    control_total_fen: int
    figures: Figures

    def submission_refusal(self) -> str | None:
        """Why the batch may not be submitted (None when it may)."""
        if self.status != OPEN:
            return f"batch is {self.status}, not open"
        f = self.figures
        if (f.accepted, f.accepted_total_fen) != (self.control_count, self.control_total_fen):
            return (
                f"accepted payees ({f.accepted}, {f.accepted_total_fen} fen) do not match the control "
                f"figures ({self.control_count}, {self.control_total_fen} fen)"
            )
        return None

    def completes(self) -> bool:
        return self.status == SUBMITTED and self.figures.pending == 0

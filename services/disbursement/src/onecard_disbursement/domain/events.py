"""Disbursement events. Public: reporting computes disbursement depth from `payee_settled`.

No event carries an ssn, a card number or a name: a person appears only as `beneficiary_key`,
the platform's keyed hash of the ssn for the purpose "holder".
"""

from __future__ import annotations

from typing import ClassVar

from onecard_events.model import DomainEvent
from onecard_events.registry import EventRegistry
from pydantic import BaseModel, ConfigDict

registry = EventRegistry()


@registry.register
class ProgramCreated(DomainEvent):
    event_type: ClassVar[str] = "onecard.disbursement.program_created"
    program_id: str
    item_id: str
    name: str
    jurisdiction: str


@registry.register
class BatchCreated(DomainEvent):
    event_type: ClassVar[str] = "onecard.disbursement.batch_created"
    batch_id: str
    program_id: str
    item_id: str
    jurisdiction: str
    period: str
    control_count: int
    control_total_fen: int


class AcceptedPayee(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    reference_id: str
    beneficiary_key: str
    channel: str
    amount_fen: int


@registry.register
class PayeesAccepted(DomainEvent):
    """Payees accepted into a batch by one call (a large call records several of these)."""

    event_type: ClassVar[str] = "onecard.disbursement.payees_accepted"
    batch_id: str
    payees: list[AcceptedPayee]


@registry.register
class BatchSubmitted(DomainEvent):
    event_type: ClassVar[str] = "onecard.disbursement.batch_submitted"
    batch_id: str


@registry.register
class PayeeSettled(DomainEvent):
    """The bank's outcome for one payee; a paid payee whose money came back later gets a second
    event with outcome `returned` (one event per payee and outcome)."""

    event_type: ClassVar[str] = "onecard.disbursement.payee_settled"
    batch_id: str
    program_id: str
    item_id: str
    jurisdiction: str
    period: str
    reference_id: str
    beneficiary_key: str
    channel: str
    amount_fen: int
    outcome: str
    reason: str
    settled_at: str


@registry.register
class BatchCompleted(DomainEvent):
    event_type: ClassVar[str] = "onecard.disbursement.batch_completed"
    batch_id: str
    paid: int
    failed: int
    returned: int
    paid_total_fen: int


def program_stream(program_id: str) -> str:
    return f"disbursement-program-{program_id}"


def batch_stream(batch_id: str) -> str:
    return f"disbursement-batch-{batch_id}"

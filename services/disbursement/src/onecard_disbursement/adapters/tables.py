"""The disbursement service's tables, declared once (migrations create them from here).

The batch is state-stored: `batches`, `payees` and `claims` are its source of truth, not a
projection of the event log. Every change to them commits in one transaction with the events it
publishes for other services, so the two never disagree; reconciliation checks that they do not.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Index, MetaData, String, Table, Text

metadata = MetaData()

programs = Table(
    "programs",
    metadata,
    Column("program_id", String(64), primary_key=True),
    Column("item_id", String(40), nullable=False),
    Column("name", String(200), nullable=False),
    Column("jurisdiction", String(6), nullable=False),
    Column("department", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

batches = Table(
    "batches",
    metadata,
    Column("batch_id", String(64), primary_key=True),
    Column("program_id", String(64), nullable=False),
    Column("item_id", String(40), nullable=False),
    Column("jurisdiction", String(6), nullable=False),
    Column("department", String(200), nullable=False),
    Column("period", String(10), nullable=False),
    Column("control_count", BigInteger, nullable=False),
    Column("control_total_fen", BigInteger, nullable=False),
    Column("status", String(10), nullable=False),
    Column("accepted", BigInteger, nullable=False),
    Column("accepted_total_fen", BigInteger, nullable=False),
    Column("paid", BigInteger, nullable=False),
    Column("failed", BigInteger, nullable=False),
    Column("returned", BigInteger, nullable=False),
    Column("paid_total_fen", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("submitted_at", DateTime(timezone=True)),
    Column("dispatched_at", DateTime(timezone=True)),
    Column("completed_at", DateTime(timezone=True)),
    Index("ix_batches_program", "program_id"),
)

payees = Table(
    "payees",
    metadata,
    # Unique across every batch and program: a reference id is never used twice.
    Column("reference_id", String(64), primary_key=True),
    Column("batch_id", String(64), nullable=False, index=True),
    Column("program_id", String(64), nullable=False),
    Column("period", String(10), nullable=False),
    Column("beneficiary_key", String(64), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("status", String(10), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("ssn_masked", String(18), nullable=False),
    Column("card_no_masked", String(9), nullable=False),
    Column("name_masked", String(100), nullable=False),
    # card_no and name, encrypted: the bank needs them to pay, nobody else does.
    Column("account_sealed", Text, nullable=False),
    Column("accepted_at", DateTime(timezone=True), nullable=False),
    Column("settled_at", DateTime(timezone=True)),
)

# One row per person, program and period while a payment to them stands; a return deletes it,
# which is what lets the person be paid again in a later batch.
claims = Table(
    "claims",
    metadata,
    Column("program_id", String(64), primary_key=True),
    Column("period", String(10), primary_key=True),
    Column("beneficiary_key", String(64), primary_key=True),
    Column("reference_id", String(64), nullable=False),
)

bank_results = Table(
    "bank_results",
    metadata,
    Column("reference_id", String(64), primary_key=True),
    Column("status", String(10), primary_key=True),
    Column("reason", String(200), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

unknown_results = Table(
    "unknown_results",
    metadata,
    Column("reference_id", String(200), primary_key=True),
    Column("status", String(20), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

# The simulated bank's own books (it would be the bank's system in production).
simbank_ledger = Table(
    "simbank_ledger",
    metadata,
    Column("reference_id", String(64), primary_key=True),
    Column("batch_id", String(64), nullable=False, index=True),
    Column("beneficiary_key", String(64), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("channel", String(16), nullable=False),
    Column("outcome", String(10), nullable=False),
    Column("reason", String(200), nullable=False),
    Column("posted", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_simbank_ledger_unposted", "posted", "reference_id"),
)

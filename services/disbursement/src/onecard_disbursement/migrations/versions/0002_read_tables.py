"""The disbursement service's catalogue view and query tables.

Revision ID: disbursement_0002
Revises: disbursement_0001
"""

import sqlalchemy as sa
from alembic import op
from onecard_service.catalog_view import create_catalog_view_tables

revision = "disbursement_0002"
down_revision = "disbursement_0001"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def _programs_and_batches() -> None:
    op.create_table(
        "programs",
        sa.Column("program_id", sa.String(64), primary_key=True),
        sa.Column("item_id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("jurisdiction", sa.String(6), nullable=False),
        sa.Column("department", sa.String(200), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    counters = ["accepted", "accepted_total_fen", "paid", "failed", "returned", "paid_total_fen"]
    op.create_table(
        "batches",
        sa.Column("batch_id", sa.String(64), primary_key=True),
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column("item_id", sa.String(40), nullable=False),
        sa.Column("jurisdiction", sa.String(6), nullable=False),
        sa.Column("department", sa.String(200), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("control_count", sa.BigInteger(), nullable=False),
        sa.Column("control_total_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        *[sa.Column(c, sa.BigInteger(), nullable=False) for c in counters],
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("submitted_at", WHEN),
        sa.Column("dispatched_at", WHEN),
        sa.Column("completed_at", WHEN),
    )
    op.create_index("ix_batches_program", "batches", ["program_id"])


def _payees() -> None:
    op.create_table(
        "payees",
        sa.Column("reference_id", sa.String(64), primary_key=True),
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("program_id", sa.String(64), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("beneficiary_key", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("ssn_masked", sa.String(18), nullable=False),
        sa.Column("card_no_masked", sa.String(9), nullable=False),
        sa.Column("name_masked", sa.String(100), nullable=False),
        sa.Column("account_sealed", sa.Text(), nullable=False),
        sa.Column("accepted_at", WHEN, nullable=False),
        sa.Column("settled_at", WHEN),
    )
    op.create_index("ix_payees_batch_id", "payees", ["batch_id"])
    op.create_table(
        "claims",
        sa.Column("program_id", sa.String(64), primary_key=True),
        sa.Column("period", sa.String(10), primary_key=True),
        sa.Column("beneficiary_key", sa.String(64), primary_key=True),
        sa.Column("reference_id", sa.String(64), nullable=False),
    )


def _bank() -> None:
    op.create_table(
        "bank_results",
        sa.Column("reference_id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(10), primary_key=True),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
    )
    op.create_table(
        "unknown_results",
        sa.Column("reference_id", sa.String(200), primary_key=True),
        sa.Column("status", sa.String(20), primary_key=True),
        sa.Column("received_at", WHEN, nullable=False),
    )
    op.create_table(
        "simbank_ledger",
        sa.Column("reference_id", sa.String(64), primary_key=True),
        sa.Column("batch_id", sa.String(64), nullable=False),
        sa.Column("beneficiary_key", sa.String(64), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("posted", sa.Boolean(), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index("ix_simbank_ledger_batch_id", "simbank_ledger", ["batch_id"])
    op.create_index("ix_simbank_ledger_unposted", "simbank_ledger", ["posted", "reference_id"])


def upgrade() -> None:
    create_catalog_view_tables()
    _programs_and_batches()
    _payees()
    _bank()


def downgrade() -> None:
    for table in (
        "simbank_ledger",
        "unknown_results",
        "bank_results",
        "claims",
        "payees",
        "batches",
        "programs",
        "catalog_merchants",
        "catalog_terminals",
        "catalog_venues",
        "catalog_items",
    ):
        op.drop_table(table)

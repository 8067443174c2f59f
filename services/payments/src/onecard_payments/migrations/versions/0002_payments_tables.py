"""Catalogue view, payments read tables, the simulated bank's ledger and used e-card codes.

Revision ID: payments_0002
Revises: payments_0001
"""

import sqlalchemy as sa
from alembic import op
from onecard_service.catalog_view import create_catalog_view_tables

revision = "payments_0002"
down_revision = "payments_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_catalog_view_tables()
    op.create_table(
        "bills",
        sa.Column("bill_id", sa.String(64), primary_key=True),
        sa.Column("merchant_id", sa.String(100), nullable=False),
        sa.Column("bill_ref", sa.String(100), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_at", sa.String(40), nullable=False),
        sa.UniqueConstraint("merchant_id", "bill_ref", name="uq_bills_merchant_ref"),
    )
    op.create_table(
        "payments",
        sa.Column("payment_id", sa.String(64), primary_key=True),
        sa.Column("bill_id", sa.String(64), nullable=False),
        sa.Column("merchant_id", sa.String(100), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(100), nullable=True),
        sa.Column("refunded_fen", sa.BigInteger(), nullable=False),
        sa.Column("bank_ref", sa.String(64), nullable=True),
        sa.Column("account_ref", sa.String(64), nullable=True),
        sa.Column("cross_region", sa.Boolean(), nullable=False),
        sa.Column("agreement_merchant", sa.Boolean(), nullable=False),
        sa.Column("idem_scope", sa.String(200), nullable=True),
        sa.Column("idem_key", sa.String(200), nullable=True),
        sa.Column("initiated_ms", sa.BigInteger(), nullable=False),
        sa.Column("initiated_at", sa.String(40), nullable=False),
        sa.Column("finished_at", sa.String(40), nullable=True),
    )
    op.create_index("ix_payments_status", "payments", ["status", "initiated_ms"])
    op.create_index("ix_payments_bill", "payments", ["bill_id"])
    op.create_table(
        "refunds",
        sa.Column("refund_id", sa.String(64), primary_key=True),
        sa.Column("payment_id", sa.String(64), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("bank_status", sa.String(16), nullable=False),
        sa.Column("refunded_at", sa.String(40), nullable=False),
    )
    op.create_index("ix_refunds_payment", "refunds", ["payment_id"])
    op.create_index("ix_refunds_bank_status", "refunds", ["bank_status"])
    op.create_table(
        "reconciliation",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("merchant_id", sa.String(100), primary_key=True),
        sa.Column("settled_count", sa.Integer(), nullable=False),
        sa.Column("settled_fen", sa.BigInteger(), nullable=False),
        sa.Column("refunded_fen", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "simbank_ledger",
        sa.Column("ref", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("account_ref", sa.String(64), nullable=False),
        sa.Column("amount_fen", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(100), nullable=True),
        sa.Column("original_ref", sa.String(64), nullable=True),
        sa.Column("recorded_at", sa.String(40), nullable=False),
    )
    op.create_table(
        "ecard_codes_used",
        sa.Column("code_id", sa.String(64), primary_key=True),
        sa.Column("used_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "ecard_codes_used",
        "simbank_ledger",
        "reconciliation",
        "refunds",
        "payments",
        "bills",
        "catalog_merchants",
        "catalog_terminals",
        "catalog_venues",
        "catalog_items",
    ):
        op.drop_table(table)

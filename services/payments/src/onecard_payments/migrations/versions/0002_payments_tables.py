"""Catalogue view, payments read tables, the simulated bank's ledger and used e-card codes.

The tables are declared once, in `onecard_payments.adapters.tables`.

Revision ID: payments_0002
Revises: payments_0001
"""

import sqlalchemy as sa
from alembic import op
from onecard_contracts.catalog_view import create_catalog_view_tables
from onecard_events.migrations import create_declared_tables

from onecard_payments.adapters.tables import bills, payments, reconciliation, refunds, simbank_ledger

revision = "payments_0002"
down_revision = "payments_0001"
branch_labels = None
depends_on = None

CREATED = (bills, payments, refunds, reconciliation, simbank_ledger)


def upgrade() -> None:
    create_catalog_view_tables()
    create_declared_tables(*CREATED)
    # Retired by payments_0003 (the simulated wallet's codes), so no longer declared.
    op.create_table(
        "ecard_codes_used",
        sa.Column("code_id", sa.String(64), primary_key=True),
        sa.Column("used_at", sa.String(40), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ecard_codes_used")
    for table in reversed(CREATED):
        op.drop_table(table.name)
    for name in ("catalog_merchants", "catalog_terminals", "catalog_venues", "catalog_items"):
        op.drop_table(name)

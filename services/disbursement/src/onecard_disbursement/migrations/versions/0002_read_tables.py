"""The disbursement service's catalogue view and its own tables (declared in adapters/tables.py).

Revision ID: disbursement_0002
Revises: disbursement_0001
"""

from alembic import op
from onecard_contracts.catalog_view import create_catalog_view_tables
from onecard_events.migrations import create_declared_tables

from onecard_disbursement.adapters.tables import (
    bank_results,
    batches,
    claims,
    payees,
    programs,
    simbank_ledger,
    unknown_results,
)

revision = "disbursement_0002"
down_revision = "disbursement_0001"
branch_labels = None
depends_on = None

TABLES = (programs, batches, payees, claims, bank_results, unknown_results, simbank_ledger)
CATALOG_VIEW = ("catalog_merchants", "catalog_terminals", "catalog_venues", "catalog_items")


def upgrade() -> None:
    create_catalog_view_tables()
    create_declared_tables(*TABLES)


def downgrade() -> None:
    for name in (*(t.name for t in reversed(TABLES)), *CATALOG_VIEW):
        op.drop_table(name)

"""Payments' view of identity's cards and signing keys, and the consumed e-card code nonces.

Replaces the simulated wallet's `ecard_codes_used`. The tables are declared once, in
`onecard_payments.adapters.tables`.

Revision ID: payments_0003
Revises: payments_0002
"""

import sqlalchemy as sa
from alembic import op
from onecard_events.migrations import create_declared_tables

from onecard_payments.adapters.tables import ecard_nonces, identity_cards, identity_signing_keys

revision = "payments_0003"
down_revision = "payments_0002"
branch_labels = None
depends_on = None

CREATED = (identity_cards, identity_signing_keys, ecard_nonces)


def upgrade() -> None:
    create_declared_tables(*CREATED)
    op.drop_table("ecard_codes_used")


def downgrade() -> None:
    op.create_table(
        "ecard_codes_used",
        sa.Column("code_id", sa.String(64), primary_key=True),
        sa.Column("used_at", sa.String(40), nullable=False),
    )
    for table in reversed(CREATED):
        op.drop_table(table.name)

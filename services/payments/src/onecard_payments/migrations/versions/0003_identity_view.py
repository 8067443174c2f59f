"""Payments' view of identity's cards and signing keys, and the consumed e-card code nonces.

Replaces the simulated wallet's `ecard_codes_used`.

Revision ID: payments_0003
Revises: payments_0002
"""

import sqlalchemy as sa
from alembic import op

revision = "payments_0003"
down_revision = "payments_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_cards",
        sa.Column("card_key", sa.String(64), primary_key=True),
        sa.Column("account_ref", sa.String(64), nullable=True),
        sa.Column("holder_key", sa.String(64), nullable=False),
        sa.Column("issuer_region", sa.String(6), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ecard", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "identity_signing_keys",
        sa.Column("region", sa.String(6), primary_key=True),
        sa.Column("kid", sa.String(128), primary_key=True),
        sa.Column("public_key", sa.String(100), nullable=False),
    )
    op.create_table(
        "ecard_nonces",
        sa.Column("nonce", sa.String(200), primary_key=True),
        sa.Column("consumed_at", sa.String(40), nullable=False),
    )
    op.drop_table("ecard_codes_used")


def downgrade() -> None:
    op.create_table(
        "ecard_codes_used",
        sa.Column("code_id", sa.String(64), primary_key=True),
        sa.Column("used_at", sa.String(40), nullable=False),
    )
    for table in ("ecard_nonces", "identity_signing_keys", "identity_cards"):
        op.drop_table(table)

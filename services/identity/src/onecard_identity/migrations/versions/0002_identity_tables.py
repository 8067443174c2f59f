"""Identity query tables and the service's catalogue view.

Revision ID: identity_0002
Revises: identity_0001
"""

import sqlalchemy as sa
from alembic import op
from onecard_service.catalog_view import create_catalog_view_tables

revision = "identity_0002"
down_revision = "identity_0001"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    create_catalog_view_tables()
    op.create_table(
        "identity_cards",
        sa.Column("card_key", sa.String(64), primary_key=True),
        sa.Column("issuer_region", sa.String(6), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("ecard", sa.Boolean(), nullable=False),
        sa.Column("ssn_hash", sa.String(64), nullable=False),
        sa.Column("holder_key", sa.String(64), nullable=False),
        sa.Column("card_no_enc", sa.Text(), nullable=False),
        sa.Column("ssn_enc", sa.Text(), nullable=False),
        sa.Column("name_enc", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_table(
        "identity_qr_nonces",
        sa.Column("nonce", sa.String(200), primary_key=True),
        sa.Column("expires_at", _TS, nullable=False),
    )
    op.create_index("ix_identity_qr_nonces_expires", "identity_qr_nonces", ["expires_at"])
    op.create_table(
        "identity_signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("region", sa.String(6), nullable=False),
        sa.Column("private_key_enc", sa.Text(), nullable=False),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "identity_partner_keys",
        sa.Column("region", sa.String(6), primary_key=True),
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("public_key", sa.String(64), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )
    op.create_table(
        "identity_partner_hotlist",
        sa.Column("region", sa.String(6), primary_key=True),
        sa.Column("card_key", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("changed_at", _TS, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "identity_partner_hotlist",
        "identity_partner_keys",
        "identity_signing_keys",
        "identity_qr_nonces",
        "identity_cards",
        "catalog_merchants",
        "catalog_terminals",
        "catalog_venues",
        "catalog_items",
    ):
        op.drop_table(table)

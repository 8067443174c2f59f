"""The catalogue's query tables: item versions, jurisdictions, venues, terminals, merchants, clients.

Revision ID: catalog_0002
Revises: catalog_0001
"""

import sqlalchemy as sa
from alembic import op
from onecard_events.tables import Json

revision = "catalog_0002"
down_revision = "catalog_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jurisdictions",
        sa.Column("code", sa.String(6), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
    )
    op.create_table(
        "item_versions",
        sa.Column("item_id", sa.String(40), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("jurisdiction", sa.String(6), nullable=False),
        sa.Column("department", sa.String(200), nullable=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("item", Json, nullable=False),
    )
    op.create_index("ix_item_versions_jurisdiction", "item_versions", ["jurisdiction", "valid_to"])
    op.create_table(
        "venues",
        sa.Column("venue_id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("jurisdiction", sa.String(6), nullable=False),
        sa.Column("item_id", sa.String(40), nullable=False),
    )
    op.create_index("ix_venues_item", "venues", ["item_id"])
    op.create_table(
        "terminals",
        sa.Column("venue_id", sa.String(100), primary_key=True),
        sa.Column("terminal_id", sa.String(100), primary_key=True),
        sa.Column("card_forms", Json, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "merchants",
        sa.Column("merchant_id", sa.String(100), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("jurisdiction", sa.String(6), nullable=False),
        sa.Column("item_id", sa.String(40), nullable=False),
        sa.Column("agreement", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "clients",
        sa.Column("client_id", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("scope", Json, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    for table in ("clients", "merchants", "terminals", "venues", "item_versions", "jurisdictions"):
        op.drop_table(table)

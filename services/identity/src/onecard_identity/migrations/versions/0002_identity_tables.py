"""Identity query tables and the service's catalogue view.

Revision ID: identity_0002
Revises: identity_0001
"""

from alembic import op
from onecard_contracts.catalog_view import create_catalog_view_tables
from onecard_events.migrations import create_declared_tables

from onecard_identity.adapters.tables import cards, partner_hotlist, partner_keys, qr_nonces, signing_keys

revision = "identity_0002"
down_revision = "identity_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_catalog_view_tables()
    create_declared_tables(cards, qr_nonces, signing_keys, partner_keys, partner_hotlist)


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

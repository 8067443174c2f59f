"""The reporting read models.

Revision ID: reporting_0002
Revises: reporting_0001
"""

from alembic import op

from onecard_reporting.tables import metadata

revision = "reporting_0002"
down_revision = "reporting_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    metadata.create_all(bind)
    op.create_index("ix_rpt_venues_item", "rpt_venues", ["item_id", "jurisdiction"])
    op.create_index("ix_rpt_merchants_item", "rpt_merchants", ["item_id", "jurisdiction"])
    op.create_index("ix_rpt_payees_item", "rpt_payees", ["item_id", "jurisdiction", "year"])


def downgrade() -> None:
    for name in (
        "rpt_cross_region_uses",
        "rpt_payees",
        "rpt_payment_firsts",
        "rpt_venue_activity",
        "rpt_merchants",
        "rpt_terminals",
        "rpt_venues",
        "rpt_jurisdictions",
        "rpt_item_versions",
    ):
        op.drop_table(name)

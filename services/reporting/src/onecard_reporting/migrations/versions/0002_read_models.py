"""The reporting read models.

Revision ID: reporting_0002
Revises: reporting_0001
"""

import sqlalchemy as sa
from alembic import op
from onecard_events.migrations import create_declared_tables

from onecard_reporting.adapters.tables import ALL

revision = "reporting_0002"
down_revision = "reporting_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_declared_tables(*ALL)

    # Reporting's own copies of the catalogue's venues, terminals and merchants, as they shipped;
    # reporting_0003 replaces them with the published catalogue view.
    def place() -> list[sa.Column[str]]:
        return [
            sa.Column("jurisdiction", sa.String(6), nullable=False),
            sa.Column("item_id", sa.String(40), nullable=False),
        ]

    key = sa.String(100)
    op.create_table("rpt_venues", sa.Column("venue_id", key, primary_key=True), *place())
    op.create_table(
        "rpt_terminals",
        sa.Column("venue_id", key, primary_key=True),
        sa.Column("terminal_id", key, primary_key=True),
        *[sa.Column(name, sa.Boolean, nullable=False) for name in ("physical", "electronic", "active")],
    )
    op.create_table(
        "rpt_merchants",
        sa.Column("merchant_id", key, primary_key=True),
        *place(),
        sa.Column("agreement", sa.Boolean, nullable=False),
    )
    op.create_index("ix_rpt_venues_item", "rpt_venues", ["item_id", "jurisdiction"])
    op.create_index("ix_rpt_merchants_item", "rpt_merchants", ["item_id", "jurisdiction"])


def downgrade() -> None:
    for name in ("rpt_merchants", "rpt_terminals", "rpt_venues"):
        op.drop_table(name)
    for table in reversed(ALL):
        op.drop_table(table.name)

"""Catalogue versions in force from their effective dates (issue 13, ADR 0013): the depth
projection replays from the start, so the item versions it keeps take the dates the upcast
catalogue events carry (an official item: its document's date) instead of when they were recorded.

Revision ID: reporting_0004
Revises: reporting_0003
"""

from alembic import op
from onecard_events.tables import checkpoints

from onecard_reporting.adapters.depth_projection import DepthProjection
from onecard_reporting.adapters.tables import ALL, CATALOG_VIEW

revision = "reporting_0004"
down_revision = "reporting_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in (*ALL, *CATALOG_VIEW):
        op.execute(table.delete())
    op.execute(checkpoints.delete().where(checkpoints.c.name.startswith(DepthProjection.name + "|")))


def downgrade() -> None:
    """Nothing to undo: the read models are rebuilt from the events either way."""

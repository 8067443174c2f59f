"""The depth history (issue 16): each depth row at the end of each day. The depth projection
replays from the start, so the days before this revision get their rows from the events too.

Revision ID: reporting_0005
Revises: reporting_0004
"""

from alembic import op
from onecard_events.migrations import create_declared_tables
from onecard_events.tables import checkpoints

from onecard_reporting.adapters.depth_projection import DepthProjection
from onecard_reporting.adapters.tables import ALL, CATALOG_VIEW, HISTORY

revision = "reporting_0005"
down_revision = "reporting_0004"
branch_labels = depends_on = None


def upgrade() -> None:
    create_declared_tables(*HISTORY)
    for table in (*ALL, *CATALOG_VIEW):
        op.execute(table.delete())
    op.execute(checkpoints.delete().where(checkpoints.c.name.startswith(DepthProjection.name + "|")))


def downgrade() -> None:
    for table in reversed(HISTORY):
        op.drop_table(table.name)

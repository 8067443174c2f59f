"""Venues, terminals, merchants and items from the published catalogue view (catalog_* tables)
instead of reporting's own copies; the depth projection replays from the start to fill them.

Revision ID: reporting_0003
Revises: reporting_0002
"""

from alembic import op
from onecard_events.migrations import create_declared_tables
from onecard_events.tables import checkpoints

from onecard_reporting.adapters.depth_projection import DepthProjection
from onecard_reporting.adapters.tables import ALL, CATALOG_VIEW

revision = "reporting_0003"
down_revision = "reporting_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for name in ("rpt_merchants", "rpt_terminals", "rpt_venues"):
        op.drop_table(name)
    create_declared_tables(*CATALOG_VIEW)
    op.create_index("ix_catalog_venues_item", "catalog_venues", ["item_id", "jurisdiction"])
    op.create_index("ix_catalog_merchants_item", "catalog_merchants", ["item_id", "jurisdiction"])
    # Drop the read model and replay: the projection's next start reads every event again.
    for table in ALL:
        op.execute(table.delete())
    op.execute(checkpoints.delete().where(checkpoints.c.name.startswith(DepthProjection.name + "|")))


def downgrade() -> None:
    raise NotImplementedError(
        "rebuild the read models instead (python -m onecard_reporting.bootstrap rebuild)"
    )

"""The catalog service's event store tables.

Revision ID: catalog_0001
Revises:
"""

from onecard_events.migrations import create_store_tables

revision = "catalog_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_store_tables()


def downgrade() -> None:
    raise NotImplementedError("the event store is append-only; restore from backup instead")

"""The catalogue's query tables: item versions, jurisdictions, venues, terminals, merchants, clients.

Revision ID: catalog_0002
Revises: catalog_0001
"""

from alembic import op
from onecard_events.migrations import create_declared_tables

from onecard_catalog.adapters.tables import (
    clients,
    item_versions,
    jurisdictions,
    merchants,
    terminals,
    venues,
)

revision = "catalog_0002"
down_revision = "catalog_0001"
branch_labels = None
depends_on = None
TABLES = (jurisdictions, item_versions, venues, terminals, merchants, clients)


def upgrade() -> None:
    create_declared_tables(*TABLES)


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table.name)

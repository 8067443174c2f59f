"""Offline validators: the bundle key, the hotlist history, the counter and the uploaded taps.

Revision ID: identity_0004
Revises: identity_0002
"""

from alembic import op
from onecard_events.migrations import create_declared_tables

from onecard_identity.adapters.offline.tables import ALL


def upgrade() -> None:
    """Declared in adapters/offline/tables.py (ADR 0008)."""
    create_declared_tables(*ALL)


def downgrade() -> None:
    for table in reversed(ALL):
        op.drop_table(table.name)


revision = "identity_0004"
down_revision = "identity_0002"
branch_labels = None
depends_on = None

"""Item versions in force from their effective dates (issue 13, ADR 0013): rebuilds item_versions
from the stored item events, lifted to v2, so an official item is in force from its document's
date and every other version from when it was recorded (what v1 called valid_from).

Revision ID: catalog_0003
Revises: catalog_0002
"""

from typing import Any

from alembic import op
from onecard_events.tables import events
from sqlalchemy import select

from onecard_catalog.adapters.read_model import closing_times, version_row
from onecard_catalog.adapters.tables import item_versions
from onecard_catalog.domain.events import registry

revision = "catalog_0003"
down_revision = "catalog_0002"
branch_labels = None
depends_on = None
ITEM_EVENTS = ("onecard.catalog.item_published", "onecard.catalog.item_retired")


def upgrade() -> None:
    conn = op.get_bind()
    query = (
        select(events.c.event_type, events.c.schema_version, events.c.data)
        .where(events.c.event_type.in_(ITEM_EVENTS))
        .order_by(events.c.tx_id, events.c.position)
    )
    rows: dict[str, dict[int, dict[str, Any]]] = {}
    for event_type, version, data in conn.execute(query):
        _, lifted = registry.upcast(event_type, version, dict(data))
        item_id = lifted["item"]["item_id"] if "item" in lifted else lifted["item_id"]
        versions = rows.setdefault(item_id, {})
        last = versions[max(versions)] if versions else None
        row = version_row(lifted, last)
        if row is not None:
            versions[row["version"]] = row
    conn.execute(item_versions.delete())
    for versions in rows.values():
        closing = closing_times([(v, r["valid_from"]) for v, r in versions.items()])
        for version, row in versions.items():
            conn.execute(item_versions.insert().values(**{**row, "valid_to": closing[version]}))


def downgrade() -> None:
    raise NotImplementedError("the v1 item versions are not kept; restore a backup instead")

"""The catalog service's event store tables.

Revision ID: catalog_0001
Revises:
"""

from onecard_events.migrations import store_revision

globals().update(store_revision("catalog"))

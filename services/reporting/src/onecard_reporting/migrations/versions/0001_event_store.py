"""The reporting service's event store tables.

Revision ID: reporting_0001
Revises:
"""

from onecard_events.migrations import store_revision

globals().update(store_revision("reporting"))

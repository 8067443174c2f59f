"""The payments service's event store tables.

Revision ID: payments_0001
Revises:
"""

from onecard_events.migrations import store_revision

globals().update(store_revision("payments"))

"""The identity service's event store tables.

Revision ID: identity_0001
Revises:
"""

from onecard_events.migrations import store_revision

globals().update(store_revision("identity"))

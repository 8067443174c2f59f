"""The catalogue's query tables, declared once: the migrations create them from here and
`read_model.record` keeps them, in the same transaction as the events they are made from."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from onecard_events.tables import Json
from onecard_events.times import utcnow
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    or_,
)

metadata = MetaData()

jurisdictions = Table(
    "jurisdictions",
    metadata,
    Column("code", String(6), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("kind", String(20), nullable=False),
)
# One row per version; the version in force at T has valid_from <= T < valid_to (open: the last
# to take effect). valid_from is the version's effective_from; read_model sets valid_to.
item_versions = Table(
    "item_versions",
    metadata,
    Column("item_id", String(40), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("jurisdiction", String(6), nullable=False),
    Column("department", String(200), nullable=True),
    Column("kind", String(10), nullable=False),
    Column("status", String(10), nullable=False),
    Column("valid_from", DateTime(timezone=True), nullable=False),
    Column("valid_to", DateTime(timezone=True), nullable=True),
    Column("item", Json, nullable=False),
    Index("ix_item_versions_jurisdiction", "jurisdiction", "valid_to"),
)
venues = Table(
    "venues",
    metadata,
    Column("venue_id", String(100), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("jurisdiction", String(6), nullable=False),
    Column("item_id", String(40), nullable=False),
    Index("ix_venues_item", "item_id"),
)
terminals = Table(
    "terminals",
    metadata,
    Column("venue_id", String(100), primary_key=True),
    Column("terminal_id", String(100), primary_key=True),
    Column("card_forms", Json, nullable=False),
    Column("active", Boolean, nullable=False),
)
merchants = Table(
    "merchants",
    metadata,
    Column("merchant_id", String(100), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("jurisdiction", String(6), nullable=False),
    Column("item_id", String(40), nullable=False),
    Column("agreement", Boolean, nullable=False),
)
clients = Table(
    "clients",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("role", String(20), nullable=False),
    Column("name", String(200), nullable=False),
    Column("scope", Json, nullable=False),
    Column("status", String(10), nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
)


def in_force(at: datetime | None) -> Any:
    """Rows of the versions in force at `at` (None: now)."""
    if at is None:
        at = utcnow()
    return and_(
        item_versions.c.valid_from <= at,
        or_(item_versions.c.valid_to.is_(None), item_versions.c.valid_to > at),
    )

"""Tables every service's database carries: the event log and the checkpoints of its readers.

Queries use these Table objects; the DDL (with dialect-specific defaults) lives in
`onecard_events.migrations` so Alembic owns every schema change.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

store_metadata = MetaData()

Json = JSON().with_variant(JSONB(), "postgresql")
Position = BigInteger().with_variant(Integer(), "sqlite")

events = Table(
    "events",
    store_metadata,
    Column("position", Position, primary_key=True, autoincrement=True),
    # The writing transaction's id (PostgreSQL); the gap-free read order is (tx_id, position).
    Column("tx_id", BigInteger, nullable=False),
    Column("stream_id", String(200), nullable=False),
    Column("stream_version", Integer, nullable=False),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("event_type", String(200), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("data", Json, nullable=False),
    Column("metadata", Json, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("stream_id", "stream_version", name="uq_events_stream_version"),
    Index("ix_events_read_order", "tx_id", "position"),
    sqlite_autoincrement=True,
)

checkpoints = Table(
    "checkpoints",
    store_metadata,
    # "<reader>|<source>", e.g. "relay|kafka" or "depth_projection|onecard.identity.v1:3".
    Column("name", String(300), primary_key=True),
    Column("tx_id", BigInteger, nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("kafka_offset", BigInteger, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

idempotency_keys = Table(
    "idempotency_keys",
    store_metadata,
    Column("scope", String(200), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("response", LargeBinary, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

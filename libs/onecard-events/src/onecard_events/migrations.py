"""Alembic helpers: the store's own tables, and running a service's migrations in code.

Every service has an Alembic script folder whose first revision calls `create_store_tables`.
Embedded mode runs `upgrade` on start-up; the distributed mode runs `onecard migrate <service>`
as an explicit step (a Helm hook Job in a cluster).
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command, op
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from .database import Database
from .tables import Json


def create_store_tables() -> None:
    """DDL for the event log, checkpoints and idempotency keys (call from a revision's upgrade)."""
    postgres = op.get_bind().dialect.name == "postgresql"
    tx_default = sa.text("(pg_current_xact_id()::text::bigint)") if postgres else sa.text("0")
    position_type = sa.BigInteger() if postgres else sa.Integer()
    op.create_table(
        "events",
        sa.Column("position", position_type, primary_key=True, autoincrement=True),
        sa.Column("tx_id", sa.BigInteger(), nullable=False, server_default=tx_default),
        sa.Column("stream_id", sa.String(200), nullable=False),
        sa.Column("stream_version", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("data", Json, nullable=False),
        sa.Column("metadata", Json, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("stream_id", "stream_version", name="uq_events_stream_version"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_events_read_order", "events", ["tx_id", "position"])
    op.create_table(
        "checkpoints",
        sa.Column("name", sa.String(300), primary_key=True),
        sa.Column("tx_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("kafka_offset", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(200), primary_key=True),
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def _config(script_location: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    return cfg


async def upgrade(db: Database, script_location: Path, revision: str = "head") -> None:
    """Bring a service's schema to `revision` (creating its PostgreSQL schema first)."""
    if db.is_postgres and db.schema:
        async with db.engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{db.schema}"'))
    cfg = _config(script_location)

    def _run(connection: Connection) -> None:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    async with db.engine.begin() as conn:
        await conn.run_sync(_run)


def run_env() -> None:
    """Body of every service's Alembic env.py: migrate on the connection handed over in code."""
    from alembic import context

    env: EnvironmentContext = context  # type: ignore[assignment]
    connection = env.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through onecard_events.migrations.upgrade")
    # Tables and alembic_version go unqualified into the first schema of the search_path, which
    # `open_database` sets to the service's own schema.
    env.configure(connection=connection, transactional_ddl=True)
    with env.begin_transaction():
        env.run_migrations()

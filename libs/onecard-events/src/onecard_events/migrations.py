"""Alembic helpers: the store's own tables, and running a service's migrations in code.

Every service has an Alembic script folder whose first revision calls `create_store_tables`.
Embedded mode runs `upgrade` on start-up; the distributed mode runs `onecard migrate <service>`
as an explicit step (a Helm hook Job in a cluster).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command, op
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from sqlalchemy import Table, text
from sqlalchemy.engine import Connection

from .database import Database
from .tables import checkpoints, events, idempotency_keys


def create_declared_tables(*tables: Table, server_defaults: Mapping[str, Any] | None = None) -> None:
    """Create `tables` as the adapters declare them (call from a revision's upgrade).

    Tables are declared once, in the service's `adapters/tables.py` (ADR 0008); a revision names
    the tables it creates. A column added after a table shipped is declared with
    `info={"since": "<revision>"}`, skipped here, and added by that revision's `op.add_column`.
    `server_defaults` maps "table.column" to a dialect's server default.
    """
    bind = op.get_bind()
    revision = op.get_context().get_current_revision()
    defaults = dict(server_defaults or {})
    for table in tables:
        kept = [c for c in table.columns if not c.info.get("since") or c.info["since"] == revision]
        names = {c.name for c in kept}
        columns = []
        for column in kept:
            copy = column._copy()
            if f"{table.name}.{column.name}" in defaults:
                copy.server_default = sa.DefaultClause(defaults[f"{table.name}.{column.name}"])
            columns.append(copy)
        extras: list[Any] = []
        for constraint in table.constraints:
            if isinstance(constraint, sa.UniqueConstraint) and constraint.name:
                cols = [c.name for c in constraint.columns]
                if set(cols) <= names:
                    extras.append(sa.UniqueConstraint(*cols, name=constraint.name))
        for index in table.indexes:
            cols = [c.name for c in index.columns]
            if index.name and set(cols) <= names and not any(c.index for c in index.columns):
                extras.append(sa.Index(index.name, *cols, unique=bool(index.unique)))
        sa.Table(table.name, sa.MetaData(), *columns, *extras, **table.kwargs).create(bind)


def create_store_tables() -> None:
    """DDL for the event log, checkpoints and idempotency keys (call from a revision's upgrade)."""
    postgres = op.get_bind().dialect.name == "postgresql"
    tx_default = sa.text("(pg_current_xact_id()::text::bigint)") if postgres else sa.text("0")
    defaults = {"events.tx_id": tx_default}
    create_declared_tables(events, checkpoints, idempotency_keys, server_defaults=defaults)


def store_revision(service: str) -> dict[str, Any]:
    """The module attributes of a service's first revision, which creates its event store:
    `globals().update(store_revision("catalog"))` is the whole revision file."""

    def downgrade() -> None:
        raise NotImplementedError("the event store is append-only; restore from backup instead")

    return {
        "revision": f"{service}_0001",
        "down_revision": None,
        "branch_labels": None,
        "depends_on": None,
        "upgrade": create_store_tables,
        "downgrade": downgrade,
    }


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

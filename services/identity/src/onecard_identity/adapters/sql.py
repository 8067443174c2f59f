"""Dialect helpers: the service runs on PostgreSQL and on SQLite with the same statements."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection


def insert_for(conn: AsyncConnection, table: Table) -> Any:
    """An INSERT that supports ON CONFLICT on either dialect."""
    return pg_insert(table) if conn.dialect.name == "postgresql" else sqlite_insert(table)

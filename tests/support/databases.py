"""Databases for tests and benchmarks: a fresh PostgreSQL database or schema, SQLite files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from onecard_events.database import Database, open_database
from sqlalchemy import text

from tests.support.names import unique


async def create_database(pg_url: str, prefix: str = "db") -> str:
    """A new, empty PostgreSQL database on the server of `pg_url`; returns its URL."""
    name = unique(prefix)
    admin = open_database(pg_url, schema="public")
    async with admin.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    await admin.dispose()
    base, _, _ = pg_url.rpartition("/")
    return f"{base}/{name}"


@asynccontextmanager
async def fresh_schema(pg_url: str) -> AsyncIterator[Database]:
    """A fresh PostgreSQL schema, dropped afterwards."""
    schema = unique("s")
    db = open_database(pg_url, schema=schema)
    async with db.engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield db
    finally:
        async with db.engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await db.dispose()


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def sqlite_database(path: Path, schema: str = "store") -> Database:
    return open_database(sqlite_url(path), schema=schema)

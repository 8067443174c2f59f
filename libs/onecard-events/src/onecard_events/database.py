"""Engines for the two modes: PostgreSQL (one schema per service) and SQLite (one file per service)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

_READS_ONLY = "onecard_reads_only"
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Database:
    """Where a service keeps its store and read models.

    On PostgreSQL every service owns one schema (set as the connection's search_path), so several
    services may share a database server or even a database without touching each other's tables.
    """

    engine: AsyncEngine
    schema: str | None

    @cached_property
    def reads(self) -> AsyncEngine:
        """The engine for transactions that only read: on SQLite they begin deferred and run
        beside the writer (WAL) instead of queueing for the write lock. On PostgreSQL: the same engine."""
        return self.engine.execution_options(**{_READS_ONLY: True})

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    async def dispose(self) -> None:
        await self.engine.dispose()


def private_directory(path: Path) -> Path:
    """`path`, created if missing, readable by its owner only (0700): it holds personal data."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def sqlite_url(data_dir: Path, name: str) -> str:
    """The URL of a service's SQLite file in `data_dir`, the file created 0600 first: SQLite
    gives its -wal and -shm files the database file's mode, and would create it 0644."""
    path = private_directory(data_dir) / (name + ".db")
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    path.chmod(0o600)
    return f"sqlite+aiosqlite:///{path}"


def open_database(url: str, schema: str, *, pool_size: int = 20, **engine_args: Any) -> Database:
    """Open a service's database: `schema` is the PostgreSQL schema (ignored on SQLite)."""
    if not _SCHEMA_NAME.match(schema):
        raise ValueError(f"bad schema name {schema!r}")
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # Pooled: a new SQLite connection is a file open, a thread and four pragmas, which cost
        # more than the transaction of a small write (once per request without a pool).
        engine = create_async_engine(
            url, poolclass=AsyncAdaptedQueuePool, pool_size=8, max_overflow=24, **engine_args
        )
        _tune_sqlite(engine)
        return Database(engine, None)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    engine = create_async_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=pool_size,
        # No pre-ping: it costs a round trip per checkout on the hot paths. Connections are
        # recycled instead, and a dropped one fails one request, which its caller retries.
        pool_recycle=1800,
        connect_args={"server_settings": {"search_path": schema, "application_name": f"onecard-{schema}"}},
        **engine_args,
    )
    return Database(engine, schema)


def _tune_sqlite(engine: AsyncEngine) -> None:
    # WAL lets readers (projections, subscriptions) run beside the single writer; a busy timeout
    # turns writer contention into waiting instead of "database is locked" errors.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    # pysqlite's own transaction handling defers BEGIN; issue BEGIN IMMEDIATE ourselves so that
    # a writer takes the write lock at the start and appends are serialised in commit order.
    @event.listens_for(engine.sync_engine, "connect")
    def _no_autobegin(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None

    # Readers (`Database.reads`) begin deferred: a read-only transaction takes no lock, and
    # waiting for the writer's lock made every view's poll and query queue behind the writes.
    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(_READS_ONLY) else "BEGIN IMMEDIATE")

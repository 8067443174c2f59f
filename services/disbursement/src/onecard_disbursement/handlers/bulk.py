"""Set-based statements for either dialect: one statement per set on PostgreSQL (arrays through
`unnest` / `= ANY`), executemany and chunked IN lists on SQLite (the embedded mode).

On PostgreSQL a set of any size is one bind parameter per column, so there is no bind-parameter
limit to chunk around and no per-row statement compilation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Column, ColumnElement, Table, any_, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

from ..tables import insert_ignoring_duplicates
from .context import chunks


def is_postgres(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


def _sql_type(conn: AsyncConnection, column: Column[Any]) -> str:
    return str(column.type.compile(dialect=conn.dialect))


async def existing(
    conn: AsyncConnection, column: Column[Any], values: Sequence[str], *where: ColumnElement[bool]
) -> set[str]:
    """Which of `values` the column holds (rows narrowed by `where`)."""
    if not values:
        return set()
    if is_postgres(conn):
        wanted = bindparam("wanted", list(values), type_=ARRAY(column.type))
        query = select(column).where(*where, column == any_(wanted))
        return set((await conn.execute(query)).scalars())
    found: set[str] = set()
    for part in chunks(values):
        found.update((await conn.execute(select(column).where(*where, column.in_(part)))).scalars())
    return found


async def insert_columns(
    conn: AsyncConnection,
    table: Table,
    columns: Mapping[str, Sequence[Any]],
    constants: Mapping[str, Any] | None = None,
    *,
    ignore_duplicates: bool = False,
) -> None:
    """Insert len(any column) rows given column-wise; `constants` are the same in every row."""
    constants = dict(constants or {})
    names = list(columns)
    size = len(columns[names[0]])
    if size == 0:
        return
    if not is_postgres(conn):
        const_items = list(constants.items())
        rows = [
            {**dict(zip(names, values, strict=True)), **dict(const_items)}
            for values in zip(*columns.values(), strict=True)
        ]
        statement = insert_ignoring_duplicates(conn, table) if ignore_duplicates else table.insert()
        await conn.execute(statement, rows)
        return
    params: dict[str, Any] = {}
    arrays = []
    for i, name in enumerate(names):
        params[f"a{i}"] = list(columns[name])
        arrays.append(f"CAST(:a{i} AS {_sql_type(conn, table.c[name])}[])")
    scalars = []
    for i, (name, value) in enumerate(constants.items()):
        params[f"k{i}"] = value
        scalars.append(f"CAST(:k{i} AS {_sql_type(conn, table.c[name])})")
    target = ", ".join([*names, *constants])
    selected = ", ".join(["u.*", *scalars])
    # Only table and column names from our own metadata are spliced in; every value is bound.
    sql = f"INSERT INTO {table.name} ({target}) SELECT {selected} FROM unnest({', '.join(arrays)}) AS u"  # noqa: S608
    if ignore_duplicates:
        sql += " ON CONFLICT DO NOTHING"
    await conn.execute(text(sql), params)


def unnest_sql(conn: AsyncConnection, table: Table, alias: str, columns: Mapping[str, str]) -> str:
    """`unnest(CAST(:<param> AS <type of table.<column>>[]), ...) AS alias(<param>, ...)`;
    `columns` maps each bind parameter name to the table column whose type it takes."""
    arrays = ", ".join(f"CAST(:{p} AS {_sql_type(conn, table.c[c])}[])" for p, c in columns.items())
    return f"unnest({arrays}) AS {alias}({', '.join(columns)})"

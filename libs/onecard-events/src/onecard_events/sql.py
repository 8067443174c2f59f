"""SQL for either dialect, written once: PostgreSQL in the distributed mode, SQLite embedded.

On PostgreSQL a set of any size travels as one bind parameter per column (`= ANY(:array)`,
`unnest(:a, :b)`), so there is no bind-parameter limit to chunk around and no per-row statement
compilation. SQLite takes executemany and chunked IN lists (embedded volumes are small).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import Column, ColumnElement, Table, any_, bindparam, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

T = TypeVar("T")
CHUNK = 2000
"""Rows per statement where a dialect needs chunks (SQLite's bind-parameter limit)."""


def is_postgres(conn: AsyncConnection) -> bool:
    return conn.dialect.name == "postgresql"


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def insert_for(conn: AsyncConnection, table: Table) -> Any:
    """The dialect's INSERT, which has `on_conflict_do_nothing/do_update` and `excluded`."""
    return (pg_insert if is_postgres(conn) else sqlite_insert)(table)


def insert_ignoring_duplicates(conn: AsyncConnection, table: Table) -> Any:
    return insert_for(conn, table).on_conflict_do_nothing()


def upsert(conn: AsyncConnection, table: Table, row: Mapping[str, Any], keys: Sequence[str]) -> Any:
    """INSERT `row`, or update its non-key columns where a row with the same `keys` exists."""
    return upsert_rows(conn, table, [row], keys)


def upsert_rows(
    conn: AsyncConnection, table: Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]
) -> Any:
    """`upsert` of several rows with the same columns in one statement (no key twice in `rows`)."""
    statement = insert_for(conn, table).values([dict(r) for r in rows])
    changes = {k: statement.excluded[k] for k in rows[0] if k not in keys}
    if not changes:
        return statement.on_conflict_do_nothing(index_elements=list(keys))
    return statement.on_conflict_do_update(index_elements=list(keys), set_=changes)


def greatest(conn: AsyncConnection, a: Any, b: Any) -> ColumnElement[Any]:
    return func.greatest(a, b) if is_postgres(conn) else func.max(a, b)


def least_known(conn: AsyncConnection, a: Any, b: Any) -> ColumnElement[Any]:
    """The smaller of two nullable values (either one when the other is NULL)."""
    x, y = func.coalesce(a, b), func.coalesce(b, a)
    return func.least(x, y) if is_postgres(conn) else func.min(x, y)


def any_of(conn: AsyncConnection, column: Column[Any], values: Sequence[Any]) -> ColumnElement[bool]:
    """`column = ANY(:values)` on PostgreSQL (one array parameter), `column IN (...)` on SQLite:
    chunk `values` with `chunks()` there when the set can be large."""
    if is_postgres(conn):
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(list(values))


async def existing(
    conn: AsyncConnection, column: Column[Any], values: Sequence[Any], *where: ColumnElement[bool]
) -> set[Any]:
    """Which of `values` the column holds (rows narrowed by `where`)."""
    if not values:
        return set()
    if is_postgres(conn):
        return set((await conn.execute(select(column).where(*where, any_of(conn, column, values)))).scalars())
    found: set[Any] = set()
    for part in chunks(values):
        found.update((await conn.execute(select(column).where(*where, column.in_(part)))).scalars())
    return found


def sql_type(conn: AsyncConnection, column: Column[Any]) -> str:
    return str(column.type.compile(dialect=conn.dialect))


def unnest_sql(conn: AsyncConnection, table: Table, alias: str, columns: Mapping[str, str]) -> str:
    """`unnest(CAST(:<param> AS <type of table.<column>>[]), ...) AS alias(<param>, ...)`;
    `columns` maps each bind parameter name to the table column whose type it takes."""
    arrays = ", ".join(f"CAST(:{p} AS {sql_type(conn, table.c[c])}[])" for p, c in columns.items())
    return f"unnest({arrays}) AS {alias}({', '.join(columns)})"


async def insert_columns(
    conn: AsyncConnection,
    table: Table,
    columns: Mapping[str, Sequence[Any]],
    constants: Mapping[str, Any] | None = None,
    *,
    on_conflict: str = "",
) -> None:
    """Insert len(any column) rows given column-wise; `constants` are the same in every row.

    `on_conflict` is PostgreSQL's clause verbatim (e.g. "ON CONFLICT DO NOTHING", or a DO UPDATE
    with GREATEST); on SQLite only "DO NOTHING" is honoured, by INSERT OR IGNORE semantics, and a
    DO UPDATE must be handled by the caller.
    """
    names = list(columns)
    if not names or len(columns[names[0]]) == 0:
        return
    constants = dict(constants or {})
    if not is_postgres(conn):
        ignore = "DO NOTHING" in on_conflict.upper()
        statement = insert_ignoring_duplicates(conn, table) if ignore else table.insert()
        count = len(columns[names[0]])
        for start in range(0, count, CHUNK):
            # Built a chunk at a time: the event loop runs while each chunk is written.
            part = zip(*(columns[n][start : start + CHUNK] for n in names), strict=True)
            rows = [{**dict(zip(names, values, strict=True)), **constants} for values in part]
            await conn.execute(statement, rows)
        return
    params: dict[str, Any] = {}
    arrays = []
    for i, name in enumerate(names):
        params[f"a{i}"] = list(columns[name])
        arrays.append(f"CAST(:a{i} AS {sql_type(conn, table.c[name])}[])")
    scalars = []
    for i, (name, value) in enumerate(constants.items()):
        params[f"k{i}"] = value
        scalars.append(f"CAST(:k{i} AS {sql_type(conn, table.c[name])})")
    target = ", ".join([*names, *constants])
    selected = ", ".join(["u.*", *scalars])
    # Only table and column names from our own metadata are spliced in; every value is bound.
    sql = f"INSERT INTO {table.name} ({target}) SELECT {selected} FROM unnest({', '.join(arrays)}) AS u"  # noqa: S608
    await conn.execute(text(f"{sql} {on_conflict}".strip()), params)

"""Writes that keep a table's key unique without a unique index, the same on a DuckDB file and on a DuckLake (which
has no primary keys): ``insert_missing`` (what ``insert or ignore`` did), ``replace_keyed`` (``insert or
replace``), ``replace_keys`` (a delete and an insert of a set of keys) and ``insert_unclaimed`` (a plain insert that
must fail on a key already there). Run them inside the caller's transaction, so the check and the write commit together.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb


class DuplicateKey(duckdb.ConstraintException):
    """Rows offered for a key the table already holds, where the key must stay unique."""


def _count(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object]) -> int:
    row = con.execute(sql, list(params) or None).fetchone()
    return int(row[0]) if row else 0


def insert_missing(
    con: duckdb.DuckDBPyConnection, table: str, rows: str, key: Sequence[str], params: Sequence[object] = ()
) -> int:
    """Insert the rows of the query ``rows`` (columns named as the table's) whose key ``table`` lacks, the first of
    each key; return how many went in."""
    columns = ", ".join(key)
    first = f"select * from ({rows}) qualify row_number() over (partition by {columns}) = 1"
    fresh = f"select * from ({first}) anti join {table} using ({columns})"
    return _count(con, f"insert into {table} by name {fresh}", params)


def replace_keyed(
    con: duckdb.DuckDBPyConnection, table: str, rows: str, key: Sequence[str], params: Sequence[object] = ()
) -> int:
    """Put the rows of the query ``rows`` in ``table`` in place of the stored rows with their keys (one row a key)."""
    columns = ", ".join(key)
    con.execute(
        f"delete from {table} where ({columns}) in (select ({columns}) from ({rows}))", list(params) or None
    ).fetchall()
    return _count(con, f"insert into {table} by name {rows}", params)


def replace_keys(con: duckdb.DuckDBPyConnection, table: str, rows: str, key: str, keys: str) -> int:
    """Put the rows of the query ``rows`` in ``table`` in place of every stored row whose ``key`` is one of the query
    ``keys`` (one column): a key that now has no rows loses its old ones."""
    con.execute(f"delete from {table} where {key} in ({keys})").fetchall()
    return _count(con, f"insert into {table} by name {rows}", ())


def insert_unclaimed(con: duckdb.DuckDBPyConnection, table: str, rows: str, key: Sequence[str]) -> int:
    """Insert every row of the query ``rows``, or raise ``DuplicateKey`` (and insert none) when one's key is taken
    or repeats."""
    columns = ", ".join(key)
    taken = _count(
        con,
        f"select count(*) from (select {columns} from ({rows}) semi join {table} using ({columns}) "
        f"union all select {columns} from ({rows}) group by all having count(*) > 1)",
        (),
    )
    if taken:
        raise DuplicateKey(f"{table}: {taken} of the rows offered have a key ({columns}) already taken")
    return _count(con, f"insert into {table} by name {rows}", ())

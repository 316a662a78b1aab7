"""What each derived table was last built from (``ops.build_state``), so a refresh redoes only what changed.

A build records a fingerprint: a digest of its code (the model's SQL, the migrations, the tiepulse version) and of
the inputs it read. The next refresh computes the fingerprint again and skips the build when it is the same; an
appended model also records a watermark (the newest ``imported_at`` it had read), so new raw rows are added to it
instead of rebuilding it. ``tiepulse refresh --full`` forgets every record, and so rebuilds everything. A raw
table's fingerprint is its row count and the sum of its rows' hashes: any insert, delete or in-place update (a
removal, a cancellation, an erasure's scrub) changes it. A table built record by record (``fct_interactions``) also
keeps one digest per source record in ``ops.build_keys``, under the same target.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import version

import duckdb

from tiepulse.core.keyed_writes import replace_keyed
from tiepulse.core.warehouse import migrations
from tiepulse.pipelines.analytics.fingerprint import digest

STATE_TABLE = "ops.build_state"
KEYS_TABLE = "ops.build_keys"
"""Per source record of a table built record by record, the digest of its inputs (``pipelines.interaction_records``)."""
VALIDATED_ROWS_TABLE = "ops.validated_rows"
"""Per checked table, the hashes of the rows Great Expectations passed (``pipelines.checks``)."""


@dataclass(frozen=True, slots=True)
class BuildState:
    fingerprint: str
    watermark: dt.datetime | None
    output: str | None = None
    """What the table held after the build (``table_fingerprint``): what the models reading it see."""
    inputs: dict[str, str] = field(default_factory=dict)
    """Each input table's fingerprint at the build."""
    partial_since: dt.datetime | None = None
    """An appended or keyed build (``pipelines.keyed_models``): the watermark it started from."""
    output_before: str | None = None
    """An appended or keyed build: ``output`` before it. A whole build of a model that ``grows_by`` a key (no
    ``partial_since``): ``output`` before it when every row it held is still there and the new rows are all of new
    keys, else None."""


@cache
def code_version() -> str:
    """The tiepulse version and every migration's text: a new release or a changed migration rebuilds all."""
    texts = [f"{number}:{path.read_text(encoding='utf-8')}" for number, path in migrations()]
    return digest(version("tiepulse"), *texts)


def stored(con: duckdb.DuckDBPyConnection, target: str) -> BuildState | None:
    row = con.execute(
        f"select fingerprint, watermark, output, inputs, partial_since, output_before from {STATE_TABLE} "
        "where target = ?",
        [target],
    ).fetchone()
    if row is None:
        return None
    return BuildState(row[0], row[1], row[2], json.loads(row[3]) if row[3] else {}, row[4], row[5])


def stored_under(con: duckdb.DuckDBPyConnection, prefix: str) -> dict[str, str]:
    """``target`` -> fingerprint of every record whose target starts with ``prefix``."""
    rows = con.execute(f"select target, fingerprint from {STATE_TABLE} where starts_with(target, ?)", [prefix])
    return dict(rows.fetchall())


def record(con: duckdb.DuckDBPyConnection, target: str, fingerprint: str, watermark: dt.datetime | None = None) -> None:
    """Replace ``target``'s record (inside the caller's transaction: the build and its record commit together)."""
    record_state(con, target, BuildState(fingerprint, watermark))


def record_state(con: duckdb.DuckDBPyConnection, target: str, state: BuildState) -> None:
    """Replace ``target``'s record with ``state`` (inside the caller's transaction)."""
    rows = (
        "select ?::varchar as target, ?::varchar as fingerprint, ?::timestamptz as watermark, ?::varchar as output, "
        "?::varchar as inputs, ?::timestamptz as partial_since, ?::varchar as output_before, now() as built_at"
    )
    inputs = json.dumps(state.inputs, sort_keys=True) if state.inputs else None
    values = [
        target,
        state.fingerprint,
        state.watermark,
        state.output,
        inputs,
        state.partial_since,
        state.output_before,
    ]
    replace_keyed(con, STATE_TABLE, rows, ["target"], values)


def record_many(con: duckdb.DuckDBPyConnection, fingerprints: dict[str, str]) -> None:
    if fingerprints:
        rows = "select unnest(?::varchar[]) as target, unnest(?::varchar[]) as fingerprint, now() as built_at"
        replace_keyed(con, STATE_TABLE, rows, ["target"], [list(fingerprints), list(fingerprints.values())])


def forget(con: duckdb.DuckDBPyConnection, prefix: str = "") -> None:
    """Forget the records under ``prefix`` (all by default), and their keys: their next build is a full one."""
    for table in (STATE_TABLE, KEYS_TABLE, VALIDATED_ROWS_TABLE):
        con.execute(f"delete from {table} where starts_with(target, ?)", [prefix]).fetchall()


@dataclass(frozen=True, slots=True)
class RawFingerprint:
    whole: str
    """Rows and hash sum of the whole table."""
    before: str
    """The same, of the rows imported at or before the watermark asked for."""
    newest: dt.datetime | None
    """The newest ``imported_at``."""


def raw_fingerprint(con: duckdb.DuckDBPyConnection, table: str, watermark: dt.datetime | None = None) -> RawFingerprint:
    """One scan of ``table`` (which has ``imported_at``): its fingerprint, and that of its part up to
    ``watermark`` (the whole table when None)."""
    upto = "true" if watermark is None else "imported_at <= $w"
    row = con.execute(
        f"select count(*), coalesce(sum(hash(t)::hugeint), 0), count(*) filter (where {upto}), "
        f"coalesce(sum(hash(t)::hugeint) filter (where {upto}), 0), max(imported_at) from {table} t",
        {"w": watermark} if watermark is not None else None,
    ).fetchone()
    assert row is not None
    return RawFingerprint(f"{row[0]}:{row[1]}", f"{row[2]}:{row[3]}", row[4])


def table_fingerprint(
    con: duckdb.DuckDBPyConnection, table: str, where: str = "true", params: dict[str, object] | None = None
) -> str:
    """Rows and hash sum of ``table`` (of its rows ``t`` that match ``where``, when given)."""
    sql = f"select count(*), coalesce(sum(hash(t)::hugeint), 0) from {table} t where {where}"
    row = con.execute(sql, params).fetchone()
    assert row is not None
    return f"{row[0]}:{row[1]}"


def shifted(fingerprint: str, added: str, removed: str = "0:0") -> str:
    """A table's fingerprint after rows of fingerprint ``added`` went in and rows of ``removed`` went out: counts
    and hash sums add up, so an append or a keyed replacement needs no scan of the whole table."""
    (rows, total), (rows_in, sum_in), (rows_out, sum_out) = (
        (int(part) for part in fp.split(":")) for fp in (fingerprint, added, removed)
    )
    return f"{rows + rows_in - rows_out}:{total + sum_in - sum_out}"

"""Data-quality checks declared beside the models (``dbt_like_models/<schema>/<name>.yml``), run by Great
Expectations as Dagster asset checks.

Each checked table has one ``quality`` check (keys unique and not null, values in range, plausible timestamps,
and any derived rule expressed as a SQL column that must be true) and one ``row_count`` check that warns when a
table shrinks sharply between runs. Quality checks are blocking: a table that fails them stops everything
downstream of it in the run. Every table's checks run in the step that builds it: a SQL layer's step
(``assets/models.py``) or the Polars asset's step (``assets/analytics.py``). Great Expectations validates every
table in one worker process (``pipelines/expectations.py``).

A validation is a pure function of the rows the check query returns and of the suite, and every expectation is
about one row except uniqueness, which is about the rows of one key. So once Great Expectations has passed a table,
the next refresh sends it only the rows that are new or changed since (their hashes are not among those it passed,
``ops.validated_rows``) together with every row sharing a unique key with one of them; the other rows, passed
before and not changed, cannot fail now. Rows removed cannot break any expectation. The suite's record in
``ops.build_state`` (``checks/<table>``: the checks, the code and Great Expectations' version) must still be the
same, else the whole table is validated. When no row is new, the check is recorded as passed again, with the time
of that validation, and the worker gets nothing. A failure is never remembered; ``tiepulse refresh --full`` and
``tiepulse erase`` forget every record.
"""

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from tiepulse.core.warehouse import transaction
from tiepulse.pipelines import build_state, expectations
from tiepulse.pipelines.analytics.fingerprint import digest
from tiepulse.pipelines.expectations import Checks
from tiepulse.pipelines.models import declared_checks

BATCH_ROWS = 1_000_000
"""Rows of a table the Great Expectations worker validates at once (about 1 GB of pandas at the heaviest check)."""
ROW_COUNT_FLOOR = 0.5
"""A table that falls below this share of its previous row count raises a warning."""
EARLIEST_PLAUSIBLE = dt.date(1990, 1, 1)
QUALITY_DESCRIPTION = "Great Expectations: keys unique and not null, values in range, rules hold."


@dataclass(frozen=True)
class TableChecks:
    table: str
    checks: Checks

    @property
    def key(self) -> dg.AssetKey:
        return dg.AssetKey(self.table.split("."))

    def query(self, earliest: dt.date, latest: dt.date) -> str:
        c = self.checks
        columns = list(dict.fromkeys([*c.unique, *c.not_null, *c.between, *c.plausible_timestamps]))
        select = [f'"{name}"' for name in columns]
        select += [f'coalesce(({rule}), false) as "rule_{name}"' for name, rule in c.rules.items()]
        select += [
            f'"{t}" is null or "{t}" between timestamptz \'{earliest}\' and timestamptz \'{latest}\' as "plausible_{t}"'
            for t in c.plausible_timestamps
        ]
        return f"select {', '.join(select) or '1 as one'} from {self.table}"


CHECKED_TABLES = [TableChecks(table, checks) for table, checks in declared_checks().items()]
"""Every table with checks declared beside its model."""


def _query(table: TableChecks, as_of: dt.date) -> str:
    # Mail dated after an earlier analysis date is kept (and ignored by that analysis), never a failed check.
    latest = max(as_of, dt.datetime.now(dt.UTC).date()) + dt.timedelta(days=400)
    return table.query(EARLIEST_PLAUSIBLE, latest)


def submit_quality(
    con: duckdb.DuckDBPyConnection,
    table: TableChecks,
    as_of: dt.date,
    batch_rows: int = BATCH_ROWS,
    query: str | None = None,
) -> Future[tuple[bool, dict[str, Any]]]:
    """Query the table as it is now (or run ``query``, rows of the check query) and start validating the rows in
    the Great Expectations worker.

    A table of more than ``batch_rows`` rows goes in batches of about that many, split by a hash of its unique key
    (rows of equal keys in the same batch, so uniqueness holds in every batch if and only if in the table; the
    other checks are row by row), so that neither this process nor the worker holds a big table whole. One query
    streams the rows in batch order (DuckDB sorts them out of core); a batch is sent when it is complete, at most
    two ahead of the worker's results."""
    query, name = query or _query(table, as_of), table.table.replace(".", "_")
    rows = int(con.execute(f"select count(*) from ({query}) q").fetchall()[0][0])
    batches = max(1, -(-rows // batch_rows))
    if batches == 1:
        return _gathered([expectations.submit(con.sql(query).to_arrow_table(), table.checks, name)])
    keys = ", ".join(f'"{c}"' for c in table.checks.unique)
    split = f"hash({keys or 'q'}) % {batches}"
    stream = con.execute(f"select *, {split} as _batch from ({query}) q order by _batch").fetch_record_batch()
    submitted: list[Future[expectations.Validation]] = []
    for rows_of_batch in _split_batches(stream):
        if len(submitted) >= 2:
            submitted[-2].result()  # the worker is at most two batches behind: bounded memory
        submitted.append(expectations.submit(rows_of_batch, table.checks, name))
    return _gathered(submitted)


def _split_batches(stream: pa.RecordBatchReader) -> Iterator[pa.Table]:
    """The rows of each ``_batch`` value (the stream is sorted by it), without that column."""
    pending: list[pa.RecordBatch] = []
    current = None
    for chunk in stream:
        ids = chunk.column("_batch")
        for value in pc.unique(ids).to_pylist():
            if value != current and pending:
                yield pa.Table.from_batches(pending).drop_columns("_batch")
                pending = []
            current = value
            pending.append(chunk.filter(pc.equal(ids, value)))
    if pending:
        yield pa.Table.from_batches(pending).drop_columns("_batch")


def _gathered(batches: list[Future[expectations.Validation]]) -> Future[tuple[bool, dict[str, Any]]]:
    """One future for the table: passed and a line per expectation, once every batch is validated."""
    whole: Future[tuple[bool, dict[str, Any]]] = Future()
    pending = [len(batches)]
    lock = threading.Lock()

    def batch_done(_: Future[expectations.Validation]) -> None:
        with lock:
            pending[0] -= 1
            if pending[0]:
                return
        try:
            merged = expectations.Validation.merged([b.result() for b in batches])
        except BaseException as error:  # the worker's failure is the check's, as before batches
            whole.set_exception(error)
            return
        whole.set_result((merged.passed, merged.details()))

    for batch in batches:
        batch.add_done_callback(batch_done)
    return whole


def evaluate(
    con: duckdb.DuckDBPyConnection, table: TableChecks, as_of: dt.date, batch_rows: int = BATCH_ROWS
) -> tuple[bool, dict[str, Any]]:
    return submit_quality(con, table, as_of, batch_rows).result()


def suite_fingerprint(table: TableChecks) -> str:
    """What a validation depends on besides the rows: the checks, the code and Great Expectations' version."""
    return digest(build_state.code_version(), version("great_expectations"), repr(table.checks))


def _validation_target(table: TableChecks) -> str:
    return f"checks/{table.table}"


@dataclass(frozen=True)
class RowHashes:
    """How the check query's row hashes moved since the pass: new ones (distinct) and passed ones no row has now."""

    new: pa.Array
    gone: pa.Array


@dataclass(frozen=True)
class ToValidate:
    """What a table's quality check sends to Great Expectations this time (``query``, None: nothing), and what the
    check's metadata says of the rows it does not send (``note``, empty when every row is sent)."""

    query: str | None
    note: dict[str, Any]
    moved: RowHashes | None = None
    """Set when only the new rows are sent: what ``remember_passed_rows`` applies, instead of hashing every row."""


NEW_ROWS = "_check_new_rows"
"""Temporary table of the rows a quality check found new (``to_validate``), read by the query it sends."""
MOVED = "_check_moved"
"""Temporary table of the new rows and of the passed hashes no row has now (``to_validate``), dropped there."""


def to_validate(con: duckdb.DuckDBPyConnection, table: TableChecks, as_of: dt.date) -> ToValidate:
    """The rows the table's quality check must validate now (the module's docstring says why that is enough).

    The check query is hashed in one scan, joined with the hashes passed: rows on its side only are new (kept in
    ``NEW_ROWS``, on ``con``: the query sent reads it, and the table once more for the rows sharing their keys; the
    caller drops it once that is read), hashes on the passed side only are of rows gone (``RowHashes.gone``)."""
    query, target = _query(table, as_of), _validation_target(table)
    passed_at = _suite_passed_at(con, table)
    if passed_at is None:
        return ToValidate(query, {})
    passed = passed_at.astimezone(dt.UTC).isoformat(timespec="seconds")
    hashed = f"(select *, hash(q) as _row_hash from ({query}) q)"
    con.execute(
        f"create or replace temp table {MOVED} as select h.*, v.row_hash as _gone from {hashed} h full join "
        f"(select row_hash from {build_state.VALIDATED_ROWS_TABLE} where target = ?) v on h._row_hash = v.row_hash "
        "where h._row_hash is null or v.row_hash is null",
        [target],
    ).fetchall()
    con.execute(
        f"create or replace temp table {NEW_ROWS} as select * exclude (_gone) from {MOVED} where _gone is null"
    ).fetchall()
    ((new,),) = con.execute(f"select count(*) from {NEW_ROWS}").fetchall()
    ((rows,),) = con.execute(f"select count(*) from {table.table}").fetchall()
    if new == 0:
        con.execute(f"drop table {MOVED}").fetchall()
        note = f"same rows and checks as Great Expectations passed at {passed}"
        return ToValidate(None, {"rows_checked": int(rows), "validated": note})
    moved = RowHashes(
        _hashes(con, f"select distinct _row_hash from {NEW_ROWS}"),
        _hashes(con, f"select _gone from {MOVED} where _gone is not null"),
    )
    con.execute(f"drop table {MOVED}").fetchall()
    # the new rows as hashed, then the others sharing a key with one of them: only those rows are hashed again
    sent = f"select * exclude (_row_hash) from {NEW_ROWS}"
    if table.checks.unique:
        keys = ", ".join(f'"{k}"' for k in table.checks.unique)
        sent += (
            f" union all select q.* from ({query}) q semi join {NEW_ROWS} using ({keys}) "
            f"where hash(q) not in (select _row_hash from {NEW_ROWS})"
        )
    note = (
        f"{new} new or changed rows and the rows sharing their keys; the other rows as Great Expectations passed "
        f"them at {passed}"
    )
    return ToValidate(sent, {"rows_checked": int(rows), "validated": note}, moved)


def _hashes(con: duckdb.DuckDBPyConnection, query: str) -> pa.Array:
    return con.sql(query).to_arrow_table().column(0).combine_chunks()


def _suite_passed_at(con: duckdb.DuckDBPyConnection, table: TableChecks) -> dt.datetime | None:
    """When Great Expectations last passed the table with the checks, code and version of now (None: never)."""
    row = con.execute(
        f"select built_at from {build_state.STATE_TABLE} where target = ? and fingerprint = ?",
        [_validation_target(table), suite_fingerprint(table)],
    ).fetchall()
    return row[0][0] if row else None


def remember_passed_rows(
    con: duckdb.DuckDBPyConnection, table: TableChecks, as_of: dt.date, moved: RowHashes | None = None
) -> None:
    """Record the table's rows as passed with its suite: the hashes of rows gone are dropped, new ones added. With
    ``moved`` (``to_validate`` found them, and nothing writes the table between its check and this record) they are
    applied as they are; without, every row of the check query is hashed."""
    target, passed = _validation_target(table), build_state.VALIDATED_ROWS_TABLE
    with transaction(con):
        if moved is not None:
            con.register("_new_hashes", pa.table({"row_hash": moved.new}))
            con.register("_gone_hashes", pa.table({"row_hash": moved.gone}))
            con.execute(
                f"delete from {passed} where target = ? and row_hash in (select row_hash from _gone_hashes)", [target]
            ).fetchall()
            con.execute(f"insert into {passed} select ?, row_hash from _new_hashes", [target]).fetchall()
            con.unregister("_new_hashes")
            con.unregister("_gone_hashes")
        else:
            _remember_every_row(con, table, as_of)
        build_state.record(con, target, suite_fingerprint(table))


def _remember_every_row(con: duckdb.DuckDBPyConnection, table: TableChecks, as_of: dt.date) -> None:
    target, passed = _validation_target(table), build_state.VALIDATED_ROWS_TABLE
    hashes = f"select distinct hash(q) as row_hash from ({_query(table, as_of)}) q"
    con.execute(f"create or replace temp table _passed_hashes as {hashes}").fetchall()
    if _suite_passed_at(con, table) is None:  # rows passed with other checks count for nothing
        con.execute(f"delete from {passed} where target = ?", [target]).fetchall()
    gone = "row_hash not in (select row_hash from _passed_hashes)"
    con.execute(f"delete from {passed} where target = ? and {gone}", [target]).fetchall()
    con.execute(
        f"insert into {passed} select ?, row_hash from _passed_hashes "
        f"where row_hash not in (select row_hash from {passed} where target = ?)",
        [target, target],
    ).fetchall()
    con.execute("drop table _passed_hashes").fetchall()


def check_specs(table: TableChecks) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec("quality", asset=table.key, blocking=True, description=QUALITY_DESCRIPTION),
        dg.AssetCheckSpec(
            "row_count",
            asset=table.key,
            description=f"Warns when the table falls below {ROW_COUNT_FLOOR:.0%} of its previous row count.",
        ),
    ]


@dataclass(frozen=True)
class PendingChecks:
    """A table's selected checks, queried when it was built; the quality result is on its way from the worker."""

    key: dg.AssetKey
    quality: Future[tuple[bool, dict[str, Any]]] | None
    row_count: dg.AssetCheckResult | None
    remember_pass: Callable[[], None] | None = None
    """Records that the table's rows passed (a later run sends only rows new or changed since)."""
    note: dict[str, Any] = field(default_factory=dict)
    """What the quality check's metadata says of rows it did not send (``ToValidate.note``)."""

    def results(self) -> list[dg.AssetCheckResult]:
        """The results, once the worker has validated the table (waits for it)."""
        results = []
        if self.quality is not None:
            passed, details = self.quality.result()
            if passed and self.remember_pass is not None:
                self.remember_pass()
            details = {**details, **self.note}
            results.append(
                dg.AssetCheckResult(asset_key=self.key, check_name="quality", passed=passed, metadata=details)
            )
        if self.row_count is not None:
            results.append(self.row_count)
        return results


def start_checks(
    con: duckdb.DuckDBPyConnection,
    table: TableChecks,
    as_of: dt.date,
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext,
) -> PendingChecks:
    """Start the table's selected checks now (after this run built the table)."""
    selected = context.selected_asset_check_keys
    quality: Future[tuple[bool, dict[str, Any]]] | None = None
    remember_pass = None
    note: dict[str, Any] = {}
    if dg.AssetCheckKey(table.key, "quality") in selected:
        sending = to_validate(con, table, as_of)
        note = sending.note
        if sending.query is None:
            quality = Future()
            quality.set_result((True, {}))
        else:
            quality = submit_quality(con, table, as_of, query=sending.query)  # the rows are read by now
            remember_pass = _remembering(context.resources.warehouse, table, as_of, sending.moved)
        con.execute(f"drop table if exists {NEW_ROWS}").fetchall()
    row_count = None
    if dg.AssetCheckKey(table.key, "row_count") in selected:
        # fetchall, not fetchone: a half-read result would block the next check's query on this connection
        rows = int(con.execute(f"select count(*) from {table.table}").fetchall()[0][0])
        previous = _previous_rows(context.instance, table.key, context.run.run_id)
        row_count = dg.AssetCheckResult(
            asset_key=table.key,
            check_name="row_count",
            passed=previous is None or previous == 0 or rows >= ROW_COUNT_FLOOR * previous,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"rows": rows, "previous_rows": previous if previous is not None else -1},
        )
    return PendingChecks(table.key, quality, row_count, remember_pass, note)


def _remembering(warehouse: Any, table: TableChecks, as_of: dt.date, moved: RowHashes | None) -> Callable[[], None]:
    """Records a pass on a session of its own: the step's connection may be closed by the time the result is in."""

    def remember() -> None:
        with warehouse.connect() as con:
            remember_passed_rows(con, table, as_of, moved)

    return remember


def _previous_rows(instance: dg.DagsterInstance, key: dg.AssetKey, run_id: str) -> int | None:
    """Row count recorded by the latest materialisation of another run."""
    for record in instance.fetch_materializations(key, limit=2).records:
        if record.run_id == run_id:
            continue
        materialization = record.asset_materialization
        value = materialization.metadata.get("rows") if materialization else None
        return int(value.value) if value is not None and isinstance(value.value, int) else None
    return None


def polars_table_checks(table: str) -> TableChecks:
    """The checks declared for a table a Polars asset writes; the asset runs them in its own step."""
    return next(t for t in CHECKED_TABLES if t.table == table)

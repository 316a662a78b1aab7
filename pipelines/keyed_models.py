"""Keyed incremental SQL models: a mart whose rows each belong to one key of its source records (a message, an event,
a log row, a month) is brought up to date by rebuilding only the keys the new raw or staging rows touch.

A model declares it in its ``.yml``::

    incremental:
      keyed: message_key                      # the table's key column
      inputs:                                 # each input read per key, and its key column (or expression)
        staging.stg_mail_sightings: message_key
        marts.fct_message_recipients: message_key
      groups:                                 # optional: keys that make one row together (copies of a message)
        table: intermediate.int_message_copies_matched
        key: message_key
        group: folded_into
      near:                                   # optional: a key's rows read the keys up to this long before it
        table: staging.stg_mail_sightings     # (a keyed input), by its time column
        time: sent_at
        hours: 24

An input's key may be an expression of its columns (``date_trunc('month', sent_at)``: a model keyed by month).
The touched keys are those of the raw and staging inputs' rows imported after the table's watermark, with every key
of a group one of them belongs to; their rows are deleted and computed again from the model's SQL with each keyed input
narrowed to them (``core.keyed_writes.replace_keys``). With ``near``, a key's rows depend on the keys whose times
lie up to ``hours`` before its own (copies of a message matched within hours): the keys redone are those whose
times may lie within ``hours`` after a touched key's, and they are computed from the keys whose times may lie
within ``hours`` before theirs (a key's time being anywhere between the earliest and the latest of its rows'). It
applies only when nothing else moved under the table since its last build (``can_update``); otherwise the table is
rebuilt whole (``pipelines/models.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp

from tiepulse.core.keyed_writes import replace_keys
from tiepulse.pipelines import build_state

AFFECTED = "_keyed_affected"
"""The temporary table of the keys a keyed build redoes."""
BATCH_ROWS = 2_000_000
"""The most keyed input rows a whole build reads in one statement (``build_whole``)."""
_NEW, _ALL, _BATCHES = "_keyed_new", "_keyed_all", "_keyed_batches"


class KeyedSpecError(ValueError):
    """A ``keyed`` declaration that cannot be used; the message names the file."""


@dataclass(frozen=True)
class Groups:
    table: str
    key: str
    group: str


@dataclass(frozen=True)
class Near:
    table: str
    time: str
    hours: int


@dataclass(frozen=True)
class KeyedSpec:
    key: str
    inputs: dict[str, str]
    """Input table -> its column holding the key."""
    groups: Groups | None = None
    near: Near | None = None

    @property
    def row_inputs(self) -> list[str]:
        """The inputs whose new rows (``imported_at``) name the touched keys: raw tables and appended staging
        models."""
        return sorted(t for t in self.inputs if t.startswith(("raw.", "staging.")))

    def touches_as(self, other: KeyedSpec) -> bool:
        """Whether the same new rows touch the same keys of both tables."""
        mine, theirs = ({t: spec.inputs[t] for t in spec.row_inputs} for spec in (self, other))
        return self.key == other.key and self.groups == other.groups and mine == theirs


def parse_spec(spec: dict[str, Any], upstream: frozenset[str], path: Path) -> KeyedSpec:
    inputs = spec.get("inputs") or {}
    groups = spec.get("groups")
    near = spec.get("near")
    if not isinstance(inputs, dict) or not inputs or not set(inputs) <= upstream:
        raise KeyedSpecError(f"{path}: incremental 'inputs' must map tables the model reads to their key column")
    found = KeyedSpec(
        key=str(spec["keyed"]),
        inputs={str(t): str(c) for t, c in inputs.items()},
        groups=Groups(str(groups["table"]), str(groups["key"]), str(groups["group"])) if groups else None,
        near=Near(str(near["table"]), str(near["time"]), int(near["hours"])) if near else None,
    )
    if not found.row_inputs:
        raise KeyedSpecError(f"{path}: a keyed model needs a raw or staging input whose new rows name the keys")
    if found.groups is not None and found.groups.table not in upstream:
        raise KeyedSpecError(f"{path}: incremental 'groups' must be a table the model reads")
    if found.near is not None and found.near.table not in found.inputs:
        raise KeyedSpecError(f"{path}: incremental 'near' must name one of its keyed inputs")
    return found


def newest_import(con: duckdb.DuckDBPyConnection, spec: KeyedSpec) -> dt.datetime | None:
    """The newest ``imported_at`` of the raw and staging inputs: the watermark of a build that read them all."""
    found = [con.execute(f"select max(imported_at) from {table}").fetchall()[0][0] for table in spec.row_inputs]
    return max((when for when in found if when is not None), default=None)


def can_update(
    con: duckdb.DuckDBPyConnection,
    spec: KeyedSpec,
    state: build_state.BuildState,
    now: dict[str, str],
    spec_of: dict[str, KeyedSpec],
    upto: Callable[[str, dt.datetime], build_state.RawFingerprint],
) -> bool:
    """Whether the keys touched since ``state`` are all that changed under the table: every input is as it was at
    the last build, or a raw or staging input that only gained rows since, or a keyed mart of the same keys brought
    up to date from the same watermark (told by their build records, else, for a raw or staging input, by a scan),
    or a lookup that only gained rows of new keys since (a model that ``grows_by`` a key: the new keys are those
    the new rows name, so the old keys' rows read what they read before).
    ``now``: each input's fingerprint now; ``spec_of``: the keyed models' specs; ``upto``: a table's fingerprint up
    to a watermark (``build_state.raw_fingerprint``, shared by the step's models)."""
    if state.watermark is None or state.output is None or set(state.inputs) != set(now):
        return False
    for table, fingerprint in now.items():
        then = state.inputs[table]
        if fingerprint == then:
            continue
        appended = table in spec.row_inputs
        upstream = build_state.stored(con, table)
        if not appended and not (table in spec_of and spec_of[table].touches_as(spec) and table in spec.inputs):
            if upstream is not None and upstream.partial_since is None and upstream.output_before == then:
                continue  # a grows_by lookup that only gained rows of new keys since this table read it
            return False
        if upstream is not None and (upstream.partial_since, upstream.output_before) == (state.watermark, then):
            continue  # it only grew from what this table last read, by the rows from the same watermark on
        # a raw table, or a staging table appended to more than once since: its rows up to the watermark must be
        # those read then
        if not appended or upto(table, state.watermark).before != then:
            return False
    return True


def update(
    con: duckdb.DuckDBPyConnection, table: str, sql: str, spec: KeyedSpec, watermark: dt.datetime
) -> tuple[str, str]:
    """Redo the rows of the keys touched since ``watermark`` (inside the caller's transaction); return the
    fingerprints of the rows put in and of those taken out (``build_state.shifted`` takes them)."""
    news = " union ".join(
        f"select {spec.inputs[t]} as key from {t} where imported_at > $watermark" for t in spec.row_inputs
    )
    con.execute(f"create or replace temp table {_NEW} as {news}", {"watermark": watermark}).fetchall()
    _near_times(con, spec)
    read = _affected(con, spec)
    mine = f"{spec.key} in (select key from {AFFECTED})"
    removed = build_state.table_fingerprint(con, table, mine)
    _replace(con, table, sql, spec, read)
    added = build_state.table_fingerprint(con, table, mine)
    _drop_temporary(con)
    return added, removed


def build_whole(
    con: duckdb.DuckDBPyConnection, table: str, sql: str, spec: KeyedSpec, batch_rows: int = BATCH_ROWS
) -> None:
    """The table built whole (inside the caller's transaction): in one statement when its keyed inputs hold at most
    ``batch_rows`` rows, else a batch of keys at a time, each batch computed as a daily update computes its keys,
    so no statement holds more than about one batch of the inputs (one statement over every row of an
    organisation-year ran out of DuckDB's memory cap in a window it did not spill)."""
    keys = " union all ".join(f"select {spec.inputs[t]} as key from {t}" for t in spec.row_inputs)
    con.execute(f"create or replace temp table {_ALL} as select key, count(*) as n from ({keys}) group by key")
    total = con.execute(f"select coalesce(sum(n), 0) from {_ALL}").fetchall()[0][0]
    if total <= batch_rows:
        con.execute(f"drop table {_ALL}").fetchall()
        con.execute(f"create or replace table {table} as {sql}").fetchall()
        return
    # with ``near``, a batch is a stretch of time: keys in key order would each need their neighbours all year round
    order, times = (
        ("a.key", "") if not _near_times(con, spec) else ("t.lo, a.key", f"left join {_NEAR_TIMES} t using (key)")
    )
    batches = con.execute(
        f"create or replace temp table {_BATCHES} as select key, (sum(a.n) over (order by {order} rows unbounded "
        f"preceding) - 1) // {int(batch_rows)} as batch from {_ALL} a {times} where key is not null; "
        f"select distinct batch from {_BATCHES} order by 1"
    ).fetchall()
    for n, (batch,) in enumerate(batches):
        con.execute(f"create or replace temp table {_NEW} as select key from {_BATCHES} where batch = ?", [batch])
        read = _affected(con, spec)
        if n == 0:
            con.execute(f"create or replace table {table} as {_rows(sql, spec, read)}").fetchall()
        else:
            _replace(con, table, sql, spec, read)
    _drop_temporary(con)


def _affected(con: duckdb.DuckDBPyConnection, spec: KeyedSpec) -> str:
    """Fill ``AFFECTED`` with the keys of ``_NEW`` and those their groups and neighbourhood add; return the
    temporary table of the keys their rows are computed from."""
    touched = f"select key from {_NEW}"
    if spec.groups is not None:
        g = spec.groups
        groups = f"select {g.group} from {g.table} where {g.key} in (select key from {_NEW})"
        touched = f"with t as ({touched} union {groups}) select key from t union select {g.key} from {g.table} " + (
            f"where {g.group} in (select key from t)"
        )
    con.execute(f"create or replace temp table {AFFECTED} as {touched}").fetchall()
    return AFFECTED if spec.near is None else _widen_near(con, spec.near)


def _rows(sql: str, spec: KeyedSpec, read: str) -> str:
    """The model's rows of the ``AFFECTED`` keys, its keyed inputs read for the keys of ``read``."""
    return f"select * from ({narrowed(sql, spec, read)}) where {spec.key} in (select key from {AFFECTED})"


def _replace(con: duckdb.DuckDBPyConnection, table: str, sql: str, spec: KeyedSpec, read: str) -> None:
    replace_keys(con, table, _rows(sql, spec, read), spec.key, f"select key from {AFFECTED}")


def _drop_temporary(con: duckdb.DuckDBPyConnection) -> None:
    for temp in (_NEW, _ALL, _BATCHES, AFFECTED, _NEAR_TIMES, _NEAR_READ, _NEAR_SPANS):
        con.execute(f"drop table if exists {temp}").fetchall()


_NEAR_TIMES = "_keyed_times"
_NEAR_READ = "_keyed_read"
_NEAR_SPANS = "_keyed_spans"


def _near_times(con: duckdb.DuckDBPyConnection, spec: KeyedSpec) -> bool:
    """With ``near``: fill ``_NEAR_TIMES`` with each key's earliest and latest time (``lo``, ``hi``) and say so."""
    if spec.near is None:
        return False
    near = spec.near
    con.execute(
        f"create or replace temp table {_NEAR_TIMES} as select {spec.inputs[near.table]} as key, "
        f"min({near.time}) as lo, max({near.time}) as hi from {near.table} group by all"
    ).fetchall()
    return True


def _widen_near(con: duckdb.DuckDBPyConnection, near: Near) -> str:
    """Add to the affected keys those whose time may lie within ``near.hours`` after an affected key's; return the
    temporary table of the keys their rows are computed from (those whose time may lie within ``near.hours``
    before an affected key's). A key's time is taken as anywhere between its rows' earliest and latest
    (``_NEAR_TIMES``)."""
    span = f"interval {int(near.hours)} hour"
    mine = f"from {_NEAR_TIMES} where key in (select key from {AFFECTED})"
    _merge_spans(con, f"select lo, hi + {span} as hi {mine}")
    con.execute(
        f"insert into {AFFECTED} select key from ({_keys_in_spans()}) except select key from {AFFECTED}"
    ).fetchall()
    _merge_spans(con, f"select lo - {span} as lo, hi {mine}")
    con.execute(
        f"create or replace temp table {_NEAR_READ} as select key from {AFFECTED} union {_keys_in_spans()}"
    ).fetchall()
    return _NEAR_READ


def _merge_spans(con: duckdb.DuckDBPyConnection, spans: str) -> None:
    """Fill ``_NEAR_SPANS`` with the union of the closed intervals (``lo``, ``hi``) of the query ``spans``, as
    disjoint intervals. The keys are then matched against a few intervals: matched against every affected key's,
    a batch of 700,000 messages of an organisation-year met billions of pairs (about 23,000 messages a day)."""
    con.execute(
        f"create or replace temp table {_NEAR_SPANS} as select min(lo) as lo, max(hi) as hi from ("
        "select lo, hi, sum(starts::int) over (order by lo, hi rows unbounded preceding) as span from ("
        "select lo, hi, coalesce(lo > max(hi) over (order by lo, hi rows between unbounded preceding and 1 "
        f"preceding), true) as starts from ({spans}) where lo is not null)) group by span"
    ).fetchall()


def _keys_in_spans() -> str:
    return f"select t.key from {_NEAR_TIMES} t join {_NEAR_SPANS} s on t.hi >= s.lo and t.lo <= s.hi"


def narrowed(sql: str, spec: KeyedSpec, keys: str = AFFECTED) -> str:
    """The model's SQL with each keyed input read for the keys of the temporary table ``keys`` only."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    for table in list(tree.find_all(exp.Table)):
        name = f"{table.db}.{table.name}"
        if name in spec.inputs:
            only = sqlglot.parse_one(f"select * from {name} where {spec.inputs[name]} in (select key from {keys})")
            alias = exp.TableAlias(this=exp.to_identifier(table.alias_or_name))
            table.replace(exp.Subquery(this=only, alias=alias))
    return tree.sql(dialect="duckdb")

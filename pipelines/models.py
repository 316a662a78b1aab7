"""SQL models in ``dbt_like_models/``: one ``SELECT`` per file, materialised as a table of the same name.

A file ``dbt_like_models/<schema>/<name>.sql`` builds ``<schema>.<name>``; the layers are the folders
``staging`` (one model per source, reading ``raw`` only), ``intermediate`` (identity and joins) and ``marts``
(entity facts and dimensions). Beside each model, ``<name>.yml`` gives its ``description`` and its ``checks``
(``unique``, ``not_null``, ``between``, ``unit_interval``, ``plausible_timestamps``, ``rules``), and optionally
``incremental: append`` for a model whose every row comes from one raw row (no aggregation, no join): new raw rows
are then added to it instead of rebuilding it. A ``.yml`` without a ``.sql`` declares the checks of a table a Polars
asset writes. Upstream tables are read from the SQL by sqlglot, never listed by hand.

Every build is incremental (``pipelines/build_state.py``): a model whose code and inputs have the same fingerprint
as at its last build is left as it is; an appended model whose raw tables only gained rows since its watermark gets
those rows; anything else is rebuilt whole.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import duckdb
import sqlglot
import yaml
from sqlglot import exp

from tiepulse.core.warehouse import PACKAGE_ROOT, transaction
from tiepulse.pipelines import build_state, keyed_models
from tiepulse.pipelines.analytics.fingerprint import digest
from tiepulse.pipelines.expectations import Checks
from tiepulse.pipelines.keyed_models import KeyedSpec, KeyedSpecError, parse_spec
from tiepulse.pipelines.marts_io import table_exists

MODELS_DIR = PACKAGE_ROOT / "dbt_like_models"
LAYERS = ("staging", "intermediate", "marts")
"""The model folders (and DuckDB schemas), lowest first."""
_CHECK_KEYS = {"unique", "not_null", "between", "unit_interval", "plausible_timestamps", "rules"}


class ModelError(ValueError):
    """A model file that cannot be used; the message names the file."""


@dataclass(frozen=True)
class Model:
    schema: str
    name: str
    path: Path
    sql: str
    description: str
    checks: Checks
    upstream: frozenset[str]
    """Tables the SQL reads, as ``schema.table``."""
    append: bool = False
    """``incremental: append``: new raw rows are added to the table (each row comes from one raw row)."""
    keyed: KeyedSpec | None = None
    """``incremental: {keyed: ...}``: the keys new staging rows touch are rebuilt (``pipelines.keyed_models``)."""
    grows_by: str | None = None
    """``incremental: {grows_by: column}``: a lookup with one row per key of everything its inputs hold (every
    address seen anywhere). Rebuilt whole; when the rebuild kept every row and only added rows of new keys, its
    keyed readers still update by key (``keyed_models.can_update``): their old rows read only old keys."""

    @property
    def table(self) -> str:
        return f"{self.schema}.{self.name}"


def _referenced_tables(sql: str, path: Path) -> frozenset[str]:
    try:
        tree = sqlglot.parse_one(sql, read="duckdb")
    except sqlglot.errors.ParseError as exc:
        raise ModelError(f"{path}: not parseable SQL: {exc}") from None
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    found = set()
    for table in tree.find_all(exp.Table):
        if table.db:
            found.add(f"{table.db}.{table.name}")
        elif table.name and table.name not in ctes:
            raise ModelError(
                f"{path}: table {table.name!r} must be schema-qualified (raw., staging., intermediate., marts.)"
            )
    return frozenset(found)


def _properties(path: Path) -> dict[str, Any]:
    """The model's ``.yml`` as a mapping (empty when there is none); read again, parsed once per content."""
    if not path.exists():
        return {}
    try:
        found = _parsed(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ModelError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(found, dict):
        raise ModelError(f"{path}: expected a mapping with 'description' and 'checks'")
    return found


@cache
def _parsed(text: str) -> Any:
    # A refresh asks for each .yml several times (checks, column descriptions for the metadata and the BI
    # snapshot); libyaml's parser is about ten times quicker than the pure-Python one.
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}


def _checks(spec: Any, path: Path) -> Checks:
    spec = spec or {}
    unknown = set(spec) - _CHECK_KEYS if isinstance(spec, dict) else {"(not a mapping)"}
    if unknown:
        raise ModelError(f"{path}: unknown checks {sorted(unknown)}; use {sorted(_CHECK_KEYS)}")
    between: dict[str, tuple[float | None, float | None]] = {c: (0.0, 1.0) for c in spec.get("unit_interval", [])}
    for column, bounds in (spec.get("between") or {}).items():
        low, high = bounds
        between[column] = (None if low is None else float(low), None if high is None else float(high))
    return Checks(
        unique=tuple(spec.get("unique", [])),
        not_null=tuple(spec.get("not_null", [])),
        between=between,
        plausible_timestamps=tuple(spec.get("plausible_timestamps", [])),
        rules=dict(spec.get("rules") or {}),
    )


def load_model(path: Path) -> Model:
    text = path.read_text(encoding="utf-8")
    properties = _properties(path.with_suffix(".yml"))
    if "description" not in properties:
        raise ModelError(f"{path}: add a 'description:' to {path.with_suffix('.yml').name} beside it")
    schema, name = path.parent.name, path.stem
    upstream = _referenced_tables(text, path) - {f"{schema}.{name}"}
    incremental = properties.get("incremental")
    keyed = None
    grows_by = None
    if isinstance(incremental, dict) and "keyed" in incremental:
        try:
            keyed = parse_spec(incremental, upstream, path)
        except KeyedSpecError as exc:
            raise ModelError(str(exc)) from None
    elif isinstance(incremental, dict) and set(incremental) == {"grows_by"}:
        grows_by = str(incremental["grows_by"])
    elif incremental not in (None, "append"):
        raise ModelError(
            f"{path}: incremental: {incremental!r} is not known; use 'append', 'keyed:', 'grows_by:' or leave it out"
        )
    if incremental == "append" and any(not table.startswith("raw.") for table in upstream):
        raise ModelError(f"{path}: incremental: append needs a model that reads raw tables only")
    return Model(
        schema=schema,
        name=name,
        path=path,
        sql=text,
        description=str(properties["description"]),
        checks=_checks(properties.get("checks"), path),
        upstream=upstream,
        append=incremental == "append",
        keyed=keyed,
        grows_by=grows_by,
    )


@cache
def all_models() -> tuple[Model, ...]:
    """Every model, in an order where each comes after the models it reads."""
    models = {m.table: m for m in (load_model(p) for p in sorted(MODELS_DIR.glob("*/*.sql")))}
    ordered: list[Model] = []
    state: dict[str, str] = {}

    def visit(table: str, trail: tuple[str, ...]) -> None:
        if state.get(table) == "done":
            return
        if state.get(table) == "visiting":
            raise ModelError("dependency cycle between models: " + " -> ".join((*trail, table)))
        state[table] = "visiting"
        for up in sorted(models[table].upstream):
            if up in models:
                visit(up, (*trail, table))
        state[table] = "done"
        ordered.append(models[table])

    for table in sorted(models):
        visit(table, ())
    return tuple(ordered)


@cache
def declared_checks() -> dict[str, Checks]:
    """``schema.table`` -> its checks, for every table whose ``.yml`` declares any (SQL models and Polars marts)."""
    found = {m.table: m.checks for m in all_models()}
    for path in sorted(MODELS_DIR.glob("*/*.yml")):
        if not path.with_suffix(".sql").exists():
            found[f"{path.parent.name}.{path.stem}"] = _checks(_properties(path).get("checks"), path)
    return {table: checks for table, checks in found.items() if checks}


def column_descriptions(table: str) -> dict[str, str]:
    """``schema.table`` -> its columns' descriptions, from ``columns:`` in its ``.yml`` (a record's fields as
    ``column.field``); the one place they are written (the BI snapshot's comments and docs read them)."""
    schema, name = table.split(".")
    path = MODELS_DIR / schema / f"{name}.yml"
    spec = _properties(path).get("columns") or {}
    if not isinstance(spec, dict):
        raise ModelError(f"{path}: 'columns:' must map each column name to its description")
    return {str(column): " ".join(str(text).split()) for column, text in spec.items()}


Built = Literal["unchanged", "appended", "keyed", "rebuilt"]
"""What a build did: left the table as it was, appended new raw rows to it, rebuilt the keys new rows touched, or
rebuilt it whole."""


@dataclass
class InputFingerprints:
    """The fingerprints of the tables models read, for one build step: a model's is its own last build's, any
    other table's (raw, ops, a Polars mart) is read from its contents once per step."""

    con: duckdb.DuckDBPyConnection
    _read: dict[str, str] = field(default_factory=dict)
    _upto: dict[tuple[str, dt.datetime], build_state.RawFingerprint] = field(default_factory=dict)

    def upto(self, table: str, watermark: dt.datetime) -> build_state.RawFingerprint:
        """A table with ``imported_at``, in one scan: its fingerprint (kept for ``of``) and that of its rows imported
        up to ``watermark``; the models of a step that read the same raw table share the scan."""
        if (table, watermark) not in self._upto:
            found = build_state.raw_fingerprint(self.con, table, watermark)
            self._upto[table, watermark] = found
            if table.split(".")[0] not in LAYERS:
                self._read.setdefault(table, found.whole)
        return self._upto[table, watermark]

    def of(self, table: str) -> str:
        if table.split(".")[0] in LAYERS and (state := build_state.stored(self.con, table)) is not None:
            # what the table holds, when known: a model rebuilt to the same rows leaves its readers unchanged
            return state.output or state.fingerprint
        if table not in self._read:
            found = table_exists(self.con, table)
            self._read[table] = build_state.table_fingerprint(self.con, table) if found else "absent"
        return self._read[table]


def _fingerprint(model: Model, inputs: dict[str, str]) -> str:
    return digest(build_state.code_version(), model.sql, *(f"{t}={inputs[t]}" for t in sorted(inputs)))


def _newer_rows_sql(model: Model) -> str:
    """The model's SQL over only the raw rows imported after ``$watermark``."""
    tree = sqlglot.parse_one(model.sql, read="duckdb")
    for table in list(tree.find_all(exp.Table)):
        newer = sqlglot.parse_one(f"select * from {table.db}.{table.name} where imported_at > $watermark")
        table.replace(exp.Subquery(this=newer, alias=exp.TableAlias(this=exp.to_identifier(table.alias_or_name))))
    return tree.sql(dialect="duckdb")


def build_model(con: duckdb.DuckDBPyConnection, model: Model, inputs: InputFingerprints | None = None) -> Built:
    """Bring the model's table up to date with its inputs, as cheaply as they allow, atomically: readers see the
    old table or the new one, never half of it. The build and its record in ``ops.build_state`` commit together.
    ``inputs``: the step's fingerprints, shared by the models it builds (read afresh when not given)."""
    inputs = inputs or InputFingerprints(con)
    state = build_state.stored(con, model.table)
    if state is not None and not table_exists(con, model.table):
        state = None  # the table was dropped (an erasure drops every derived table): build it whole
    if state is not None and state.watermark is not None and (model.append or model.keyed is not None):
        for table in model.upstream:
            if table.startswith("raw."):
                inputs.upto(table, state.watermark)  # one scan gives the table's fingerprint and its part read then
    now = {t: inputs.of(t) for t in model.upstream}
    fingerprint = _fingerprint(model, now)
    if state is not None and state.fingerprint == fingerprint:
        return "unchanged"
    if state is not None and model.append and state.watermark is not None:
        raw = {t: inputs.upto(t, state.watermark) for t in model.upstream}
        if _fingerprint(model, {t: fp.before for t, fp in raw.items()}) == state.fingerprint:
            with transaction(con):
                con.execute(
                    f"insert into {model.table} by name {_newer_rows_sql(model)}", {"watermark": state.watermark}
                ).fetchall()
                newer = "imported_at > $w"
                added = build_state.table_fingerprint(con, model.table, newer, {"w": state.watermark})
                output = build_state.shifted(state.output, added) if state.output else None
                grown = build_state.BuildState(
                    fingerprint, _newest(raw) or state.watermark, output, now, state.watermark, state.output
                )
                build_state.record_state(con, model.table, grown)
            return "appended"
    if state is not None and model.keyed is not None and _keyed_applies(model, state, now, inputs):
        assert state.watermark is not None and state.output is not None  # checked by can_update
        with transaction(con):
            added, removed = keyed_models.update(con, model.table, model.sql, model.keyed, state.watermark)
            watermark = keyed_models.newest_import(con, model.keyed) or state.watermark
            output = build_state.shifted(state.output, added, removed)
            build_state.record_state(
                con,
                model.table,
                build_state.BuildState(fingerprint, watermark, output, now, state.watermark, state.output),
            )
        return "keyed"
    with transaction(con):
        newest = _whole_watermark(con, model)
        grew_from = None
        if model.keyed is not None:
            keyed_models.build_whole(con, model.table, model.sql, model.keyed)
        elif model.grows_by is not None and state is not None and state.output is not None:
            grew_from = _rebuild_growing(con, model, model.grows_by, state.output)
        else:
            con.execute(f"create or replace table {model.table} as {model.sql}").fetchall()
        _record_whole(con, model, fingerprint, newest, now, grew_from)
    return "rebuilt"


def _rebuild_growing(con: duckdb.DuckDBPyConnection, model: Model, key: str, output: str) -> str | None:
    """Rebuild a ``grows_by`` model whole; ``output`` (what it held) when every row it held is still there and
    no new row has a key it held (only new keys were added), else None."""
    grown = "_grown"
    con.execute(f"create or replace temp table {grown} as {model.sql}").fetchall()
    row = con.execute(
        f"select (select count(*) from (select * from {model.table} except all select * from {grown})), "
        f"(select count(*) from {grown} semi join {model.table} using ({key})), "
        f"(select count(*) from {model.table})"
    ).fetchone()
    assert row is not None
    lost, rows_of_old_keys, held = row
    con.execute(f"create or replace table {model.table} as select * from {grown}").fetchall()
    con.execute(f"drop table {grown}").fetchall()
    return output if lost == 0 and rows_of_old_keys == held else None


def _whole_watermark(con: duckdb.DuckDBPyConnection, model: Model) -> dt.datetime | None:
    """The watermark of a whole build: the newest row it read, for a model that can later take only newer ones."""
    if model.append:
        return _newest({t: build_state.raw_fingerprint(con, t) for t in model.upstream})
    if model.keyed is not None:
        return keyed_models.newest_import(con, model.keyed)
    return None


def _keyed_applies(model: Model, state: build_state.BuildState, now: dict[str, str], inputs: InputFingerprints) -> bool:
    """Whether a keyed build can do: the same code as at the last build (a changed model is rebuilt whole), and
    only the keys new rows touch changed under it."""
    if model.keyed is None or _fingerprint(model, state.inputs) != state.fingerprint:
        return False
    specs = {m.table: m.keyed for m in all_models() if m.keyed is not None}
    return keyed_models.can_update(inputs.con, model.keyed, state, now, specs, inputs.upto)


def _record_whole(
    con: duckdb.DuckDBPyConnection,
    model: Model,
    fingerprint: str,
    watermark: dt.datetime | None,
    inputs: dict[str, str],
    grew_from: str | None = None,
) -> None:
    """Record a whole build with what the table now holds (and, for a ``grows_by`` model that only gained new
    keys, what it held before)."""
    output = build_state.table_fingerprint(con, model.table)
    state = build_state.BuildState(fingerprint, watermark, output, inputs, output_before=grew_from)
    build_state.record_state(con, model.table, state)


def _newest(raw: dict[str, build_state.RawFingerprint]) -> dt.datetime | None:
    return max((fp.newest for fp in raw.values() if fp.newest is not None), default=None)

"""SQL models in ``dbt_like_models/``: one ``SELECT`` per file, materialised as a table of the same name.

A file ``dbt_like_models/<schema>/<name>.sql`` builds ``<schema>.<name>``; the layers are the folders
``staging`` (one model per source, reading ``raw`` only), ``intermediate`` (identity and joins) and ``marts``
(entity facts and dimensions). Beside each model, ``<name>.yml`` gives its ``description`` and its ``checks``
(``unique``, ``not_null``, ``between``, ``unit_interval``, ``plausible_timestamps``, ``rules``). A ``.yml`` without a
``.sql`` declares the checks of a table a Polars asset writes. Upstream tables are read from the SQL by sqlglot,
never listed by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
import yaml
from sqlglot import exp

from tiepulse.core.warehouse import PACKAGE_ROOT, transaction
from tiepulse.pipelines.expectations import Checks

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
    """The model's ``.yml`` as a mapping (empty when there is none)."""
    if not path.exists():
        return {}
    try:
        found = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ModelError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(found, dict):
        raise ModelError(f"{path}: expected a mapping with 'description' and 'checks'")
    return found


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
    return Model(
        schema=schema,
        name=name,
        path=path,
        sql=text,
        description=str(properties["description"]),
        checks=_checks(properties.get("checks"), path),
        upstream=_referenced_tables(text, path) - {f"{schema}.{name}"},
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


def build_model(con: duckdb.DuckDBPyConnection, model: Model) -> int:
    """(Re)build the model's table atomically; readers see the old table or the new one, never half of it."""
    with transaction(con):
        con.execute(f"create or replace table {model.table} as {model.sql}").fetchall()
        rows = int(con.execute(f"select count(*) from {model.table}").fetchall()[0][0])
    return rows

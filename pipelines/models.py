"""SQL models in ``dbt_like_models/``: one ``SELECT`` per file, materialised as a table of the same name.

A file ``dbt_like_models/<schema>/<name>.sql`` builds ``<schema>.<name>``. Its header comments carry the
description and the columns to test (``-- description:``, ``-- unique: a, b``, ``-- not_null: a, b``); its
upstream tables are read from the SQL by sqlglot, never listed by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import duckdb
import sqlglot
from sqlglot import exp

from tiepulse.core.warehouse import PACKAGE_ROOT, transaction

MODELS_DIR = PACKAGE_ROOT / "dbt_like_models"
_HEADER = re.compile(r"^--\s*(description|unique|not_null):\s*(.*)$")


class ModelError(ValueError):
    """A model file that cannot be used; the message names the file."""


@dataclass(frozen=True)
class Model:
    schema: str
    name: str
    path: Path
    sql: str
    description: str
    unique: tuple[str, ...]
    not_null: tuple[str, ...]
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
            raise ModelError(f"{path}: table {table.name!r} must be schema-qualified (raw., staging., marts.)")
    return frozenset(found)


def load_model(path: Path) -> Model:
    text = path.read_text(encoding="utf-8")
    meta: dict[str, str] = {}
    for line in text.splitlines():
        match = _HEADER.match(line.strip())
        if match:
            meta[match.group(1)] = match.group(2).strip()
    if "description" not in meta:
        raise ModelError(f"{path}: add a '-- description: ...' header line")

    def columns(key: str) -> tuple[str, ...]:
        return tuple(c.strip() for c in meta.get(key, "").split(",") if c.strip())

    schema, name = path.parent.name, path.stem
    return Model(
        schema=schema,
        name=name,
        path=path,
        sql=text,
        description=meta["description"],
        unique=columns("unique"),
        not_null=columns("not_null"),
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


def build_model(con: duckdb.DuckDBPyConnection, model: Model) -> int:
    """(Re)build the model's table atomically; readers see the old table or the new one, never half of it."""
    body = "\n".join(line for line in model.sql.splitlines() if not _HEADER.match(line.strip()))
    with transaction(con):
        con.execute(f"create or replace table {model.table} as {body}").fetchall()
        rows = int(con.execute(f"select count(*) from {model.table}").fetchall()[0][0])
    return rows

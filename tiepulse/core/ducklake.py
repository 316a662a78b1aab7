"""The warehouse on DuckLake: a catalog database (SQLite on one machine, PostgreSQL for many) and Parquet data files
(a folder or S3-compatible object storage), attached to an in-memory DuckDB as the catalog ``tiepulse``.

DuckLake keeps no primary keys, unique constraints, indexes, sequences or non-literal defaults; ``for_lake`` turns
a migration written for the DuckDB file into one DuckLake accepts (the loader enforces keys itself), and a file in
``sql/migrations/ducklake/`` replaces a migration that needs a statement DuckLake cannot run. The extensions come
from the ``duckdb-ext-*`` packages: DuckDB never downloads anything here.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import duckdb
import duckdb_ext
import sqlglot
from sqlglot import exp

if TYPE_CHECKING:
    from tiepulse.core.settings import DuckLakeOptions

LAKE = "tiepulse"
_T = TypeVar("_T")
"""The name the lake is attached under (every session ``USE``s it, so SQL names tables as on the DuckDB file)."""
EXTENSIONS_DIR = Path(next(iter(duckdb_ext.__path__))) / "extensions"
EXTENSION_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "extension_directory": str(EXTENSIONS_DIR),
    "autoinstall_known_extensions": "false",
}
"""A DuckDB connection's config that loads the packaged extensions and never downloads one."""
COMMIT_CONFLICT = re.compile(
    r"Failed to commit DuckLake transaction|database is locked|Transaction conflict|could not serialize access"
)
"""What DuckDB says when another writer got to the catalog first: the work is worth trying again."""
_SECRET_IN_DSN = re.compile(r"(password\s*=\s*)(\S+)", re.IGNORECASE)
_S3_CREDENTIAL_SETTINGS = ("s3_access_key_id", "s3_secret_access_key", "s3_session_token")
_REFUSED_CONSTRAINTS = (exp.PrimaryKeyColumnConstraint, exp.UniqueColumnConstraint, exp.CheckColumnConstraint)


class LakeError(RuntimeError):
    """The lake's catalog or data files cannot be reached; the message says where and what to check."""


@dataclass(frozen=True)
class LakeLocation:
    """Where one lake lives: ``catalog`` is ``sqlite:PATH`` or ``postgres:DSN``; ``data_path`` a folder or URL."""

    catalog: str
    data_path: str
    options: DuckLakeOptions

    @property
    def on_postgres(self) -> bool:
        return self.catalog.startswith("postgres:")

    @property
    def catalog_file(self) -> Path | None:
        return None if self.on_postgres else Path(self.catalog.removeprefix("sqlite:"))

    @property
    def in_object_storage(self) -> bool:
        return self.data_path.startswith("s3://")

    def describe(self) -> str:
        """The catalog for a message, with any password masked."""
        return _SECRET_IN_DSN.sub(r"\1***", self.catalog)


def lake_location(path: Path, options: DuckLakeOptions) -> LakeLocation:
    """The lake named by ``path`` (``.../warehouse.ducklake``): its SQLite catalog unless the options name another,
    its data files beside it unless the options put them elsewhere."""
    catalog = options.catalog or str(path)
    if not catalog.startswith("postgres:"):
        catalog = "sqlite:" + str(Path(catalog.removeprefix("sqlite:")).absolute())
    data_path = options.data_path or str(path.absolute()) + ".files"
    if not data_path.endswith("/"):
        data_path += "/"
    return LakeLocation(catalog=catalog, data_path=data_path, options=options)


def _quoted(text: str) -> str:
    return text.replace("'", "''")


def open_lake(location: LakeLocation, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake attached and in use; a catalog that cannot be reached raises ``LakeError``.

    Two processes creating the same lake race to write its catalog tables; the loser finds the catalog locked and
    attaches again (``retrying``), as a colliding commit does."""
    try:
        return retrying(lambda: _attach(location, read_only=read_only), location.options.commit_attempts)
    except duckdb.Error as exc:
        raise LakeError(_unreachable(location, exc)) from None


def retrying(work: Callable[[], _T], attempts: int) -> _T:
    """``work()``, run again after a random wait that grows with each attempt while it fails because another writer
    holds the catalog (``COMMIT_CONFLICT``; SQLite has no busy wait in DuckDB), up to ``attempts`` times."""
    for attempt in range(1, attempts + 1):
        try:
            return work()
        except duckdb.Error as exc:
            if attempt == attempts or not COMMIT_CONFLICT.search(str(exc)):
                raise
        time.sleep(random.uniform(0, min(2.0, 0.05 * 2**attempt)))
    raise AssertionError("unreachable: the last attempt returns or raises")


def _attach(location: LakeLocation, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config=EXTENSION_CONFIG)
    try:
        con.execute("set enable_progress_bar = false").fetchall()  # DuckDB would draw one on stdout while it commits
        for extension in _extensions(location):
            con.execute(f"load {extension}").fetchall()
        if location.in_object_storage:
            _s3_secret(con, location.options)
        options = [f"data_path '{_quoted(location.data_path)}'"] + (["read_only"] if read_only else [])
        con.execute(f"attach '{_quoted('ducklake:' + location.catalog)}' as {LAKE} ({', '.join(options)})").fetchall()
        con.execute(f"use {LAKE}").fetchall()
    except duckdb.Error:
        con.close()
        raise
    return con


def _extensions(location: LakeLocation) -> list[str]:
    found = ["ducklake", "postgres_scanner" if location.on_postgres else "sqlite_scanner"]
    return found + (["httpfs"] if location.in_object_storage else [])


def _s3_secret(con: duckdb.DuckDBPyConnection, options: DuckLakeOptions) -> None:
    """The object store's credentials from the standard AWS variables (never from the config file)."""
    fields = {
        "key_id": os.environ.get("AWS_ACCESS_KEY_ID", ""),
        "secret": os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
        "session_token": os.environ.get("AWS_SESSION_TOKEN", ""),
        "region": options.s3_region,
        "url_style": options.s3_url_style,
    }
    if options.s3_endpoint:
        fields["endpoint"] = options.s3_endpoint
    settings = ", ".join(f"{name} '{_quoted(value)}'" for name, value in fields.items())
    con.execute(
        f"create or replace temporary secret tiepulse_lake (type s3, {settings}, use_ssl {options.s3_use_ssl!s})"
    ).fetchall()
    # Loading httpfs copies the AWS variables into settings anyone's SQL could read (current_setting); the secret,
    # whose key DuckDB redacts, is the only copy the session keeps.
    for setting in _S3_CREDENTIAL_SETTINGS:
        con.execute(f"set {setting} = ''").fetchall()


def _unreachable(location: LakeLocation, exc: duckdb.Error) -> str:
    first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    first = _SECRET_IN_DSN.sub(r"\1***", first)
    if location.on_postgres:
        check = "that the catalog database is running and reachable (warehouse.ducklake.catalog in the config file; "
        check += "the password in PGPASSWORD or ~/.pgpass)"
    else:
        check = "that the catalog is a DuckLake SQLite file this user can read and write, in a folder that exists "
        check += "(warehouse.ducklake.catalog in the config file)"
    return (
        f"Cannot open the DuckLake catalog {location.describe()} (data in {location.data_path}): {first}. "
        f"Check {check}, then run again."
    )


def is_lake(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether ``con`` works in a DuckLake (rather than a DuckDB file)."""
    found = con.execute("select type from duckdb_databases() where database_name = current_database()").fetchall()
    return bool(found) and found[0][0] == "ducklake"


def lake_paths(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The catalog file and data folder of the lake ``con`` uses (what a sandbox must still let DuckDB reach)."""
    found = con.execute(
        "select path from duckdb_databases() where database_name = current_database() "
        "union all select value from ducklake_options(current_database()) where option_name = 'data_path'"
    ).fetchall()
    return [str(row[0]).removeprefix("ducklake:").removeprefix("sqlite:") for row in found if row[0]]


def data_unreachable(location: LakeLocation, exc: duckdb.Error) -> str:
    """The message for data files that cannot be read or written (the object store down, a wrong endpoint)."""
    if location.in_object_storage:
        where = "warehouse.ducklake.data_path and s3_* in the config file, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
    else:
        where = "warehouse.ducklake.data_path in the config file"
    return (
        f"Cannot reach the DuckLake's data files in {location.data_path}: {_first_line(exc)}. "
        f"Check that the storage is up and reachable ({where}), then run again."
    )


def _first_line(exc: duckdb.Error) -> str:
    """The error's first line, with any password or AWS secret masked."""
    first = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
    first = _SECRET_IN_DSN.sub(r"\1***", first)
    for variable in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        if os.environ.get(variable):
            first = first.replace(os.environ[variable], "***")
    return first


def for_lake(sql: str) -> str:
    """A migration's statements without what DuckLake refuses: primary keys, unique and check constraints, and
    defaults that are not literals (writers give those columns their value: ``now()`` in the insert); a boolean
    default becomes the string literal DuckLake accepts."""
    statements = []
    for statement in sqlglot.parse(sql, read="duckdb"):
        if statement is None:
            continue
        if _sets_computed_default(statement):
            continue
        for constraint in list(statement.find_all(exp.ColumnConstraint)):
            kind = constraint.args.get("kind")
            if isinstance(kind, _REFUSED_CONSTRAINTS) or _computed_default(kind):
                constraint.pop()
        for key in list(statement.find_all(exp.PrimaryKey, exp.UniqueColumnConstraint)):
            key.pop()
        for flag in list(statement.find_all(exp.Boolean)):  # DuckLake takes 'true', not the keyword, as a default
            if isinstance(flag.parent, exp.DefaultColumnConstraint | exp.AlterColumn):
                flag.replace(exp.Literal.string("true" if flag.this else "false"))
        statements.append(statement.sql(dialect="duckdb"))
    return ";\n".join(statements) + ";\n" if statements else ""


def _computed_default(kind: exp.Expr | None) -> bool:
    return isinstance(kind, exp.DefaultColumnConstraint) and not isinstance(kind.this, exp.Literal | exp.Boolean)


def _sets_computed_default(statement: exp.Expr) -> bool:
    """``alter table ... alter column ... set default now()``: nothing to do on a lake."""
    if not isinstance(statement, exp.Alter):
        return False
    actions = statement.args.get("actions") or []
    return bool(actions) and all(
        isinstance(a, exp.AlterColumn)
        and a.args.get("default") is not None
        and not isinstance(a.args["default"], exp.Literal | exp.Boolean)
        for a in actions
    )

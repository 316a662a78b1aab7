"""`tiepulse export --format parquet|csv DIR`: the BI snapshot's objects as files, for tools that prefer them.

Exactly what BI tools see in ``bi.duckdb`` (the contract's objects, marts only, never raw or ops), read from the
published snapshot, so an export never waits for a refresh and never mixes two of them. Beside the objects:
``snapshot`` and ``snapshot_objects`` (when, from which refresh, which objects) and ``columns`` (every column's
type and description, since Parquet and CSV files carry no comments). Files are 0600, like the snapshot.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from tiepulse.core.settings import Settings
from tiepulse.pipelines.bi_published import ABOUT_TABLES, open_snapshot, read_about

ExportFormat = Literal["parquet", "csv"]
COLUMNS_FILE = "columns"
_COPY_OPTIONS = {"parquet": "(format parquet)", "csv": "(format csv, header true)"}


def export_snapshot(settings: Settings, directory: Path, fmt: ExportFormat) -> dict[str, Path]:
    """Write every object of the published snapshot into ``directory`` as ``<object>.<fmt>``; name -> file."""
    directory.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    with open_snapshot(settings) as con:
        about = read_about(con)
        queries = {name: f'select * from main."{name}"' for name in (*about.present, *ABOUT_TABLES)}
        queries[COLUMNS_FILE] = (
            "select table_name as object_name, column_name, data_type, comment as description "
            "from duckdb_columns() where database_name = current_database() and schema_name = 'main' "
            "order by table_name, column_index"
        )
        for name, query in queries.items():
            path = directory / f"{name}.{fmt}"
            target = "'" + str(path).replace("'", "''") + "'"
            con.execute(f"copy ({query}) to {target} {_COPY_OPTIONS[fmt]}").fetchall()
            os.chmod(path, 0o600)
            written[name] = path
    return written

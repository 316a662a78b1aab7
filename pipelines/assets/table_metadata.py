"""What the Dagster UI shows of a built table: its rows and its columns, typed and described.

Column descriptions are read from ``columns:`` in the table's ``.yml`` (the one place they are written); no preview
of rows is attached, so no address or name lands in Dagster's storage outside the warehouse.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import duckdb

from tiepulse.pipelines.marts_io import table_columns
from tiepulse.pipelines.models import column_descriptions


def table_metadata(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, Any]:
    """``rows`` (read by the refresh summary and the row-count check), ``dagster/row_count`` and
    ``dagster/column_schema`` of ``table`` as it now stands in the warehouse."""
    columns = table_columns(con, table)
    rows = int(con.execute(f"select count(*) from {table}").fetchall()[0][0])
    described = column_descriptions(table)
    return {
        "rows": rows,
        "dagster/row_count": rows,
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(column, kind, description=described.get(column)) for column, kind in columns]
        ),
    }

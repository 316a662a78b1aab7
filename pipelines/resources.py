"""Dagster resources: the DuckDB warehouse, configured from the environment (TIEPULSE_HOME, TIEPULSE_CONFIG)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import connect

# Every asset that writes the warehouse runs in this pool; its limit (1) serialises DuckDB's single writer.
WAREHOUSE_POOL = "duckdb_warehouse"


class WarehouseResource(dg.ConfigurableResource):
    """Opens the warehouse at ``$TIEPULSE_HOME/warehouse.duckdb`` (or ``home`` when given)."""

    home: str | None = None

    def settings(self) -> Settings:
        return Settings(home=Path(self.home)) if self.home else Settings()

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = connect(self.settings().warehouse_path)
        try:
            yield con
        finally:
            con.close()

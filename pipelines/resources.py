"""Dagster resources: the DuckDB warehouse, configured from the environment (TIEPULSE_HOME, TIEPULSE_CONFIG)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
from pydantic import PrivateAttr

from tiepulse.core.runlog import note_blocked_run
from tiepulse.core.settings import Settings
from tiepulse.core.warehouse import WarehouseBusy, connect, session

# Every asset that writes the warehouse runs in this pool; its limit (1) serialises DuckDB's single writer.
WAREHOUSE_POOL = "duckdb_warehouse"


class WarehouseResource(dg.ConfigurableResource):
    """Opens the warehouse at ``$TIEPULSE_HOME/warehouse.duckdb`` (or ``home`` when given).

    In a run, the file is opened once, when the run starts, and closed when it ends; each step gets a session of
    its own on it. The steps run one after another in the run's process (``definitions.py``), and an open and
    close of the file per step (reading the catalog, checkpointing) cost about 50 ms a step.
    """

    home: str | None = None
    _run_connection: duckdb.DuckDBPyConnection | None = PrivateAttr(default=None)

    def settings(self) -> Settings:
        return Settings(home=Path(self.home)) if self.home else Settings()

    @contextmanager
    def yield_for_execution(self, context: dg.InitResourceContext) -> Iterator[WarehouseResource]:
        settings = self.settings()
        try:
            con = connect(settings.warehouse_path)
        except WarehouseBusy as exc:  # a scheduled run: kept for `tiepulse status`, one line in the Dagster UI
            note_blocked_run(settings.home, "dagster run", dt.datetime.now(dt.UTC), str(exc))
            raise dg.Failure(description=str(exc)) from None
        self._run_connection = con
        try:
            yield self
        finally:
            self._run_connection = None
            con.close()

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = session(self._run_connection) if self._run_connection else connect(self.settings().warehouse_path)
        try:
            yield con
        finally:
            con.close()

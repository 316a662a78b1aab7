"""Dagster's SQLite event log with one engine kept per file, for the CLI's runs (``dagster_instance.cli_instance``)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._serdes import ConfigurableClassData
from sqlalchemy import Connection, Engine, create_engine

INDEX_SHARD = "index"
"""The file of Dagster's SQLite event log that indexes every run's asset events."""


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log, the same files and tables, with one engine (and its compiled statements) kept per
    file instead of one built and disposed for every event.

    Only the connection factories and the table lookup that ``SqlEventLogStorage`` asks its subclasses for are
    replaced; the first connection to a file goes through Dagster's own, which creates and migrates the file. A
    long-lived process keeps the engines of the last ``KEPT_FILES`` files (a run's file and the index are in use).
    """

    KEPT_FILES = 8
    BUSY_TIMEOUT_SECONDS = 30  # as Dagster's own SQLite storages wait for a lock

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_lock = threading.RLock()
        self._tables_seen: set[str] = set()
        super().__init__(base_dir, inst_data)  # a new folder's index is made and filled here, through _pooled

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Any
    ) -> PooledSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def run_connection(self, run_id: str | None = None) -> AbstractContextManager[Connection]:
        return self._pooled(str(run_id))

    def index_connection(self) -> AbstractContextManager[Connection]:
        return self._pooled(INDEX_SHARD)

    def has_table(self, table_name: str) -> bool:
        """Asked before every asset and check event is indexed; a table, once there, stays (migrations add)."""
        if table_name not in self._tables_seen:
            with self.index_connection() as connection:
                if not connection.dialect.has_table(connection, table_name):
                    return False
            self._tables_seen.add(table_name)
        return True

    @contextmanager
    def _pooled(self, shard: str) -> Iterator[Connection]:
        with self._engines_lock:
            engine = self._engines.get(shard)
            if engine is None:
                opener = super().index_connection() if shard == INDEX_SHARD else super().run_connection(shard)
                with opener:  # Dagster's own first connection creates the file and its tables
                    pass
                engine = create_engine(
                    self.conn_string_for_shard(shard), connect_args={"timeout": self.BUSY_TIMEOUT_SECONDS}
                )
                self._engines[shard] = engine
                while len(self._engines) > self.KEPT_FILES:
                    self._engines.popitem(last=False)[1].dispose()
            self._engines.move_to_end(shard)
            with engine.connect() as connection, connection.begin():
                yield connection

    def dispose(self) -> None:
        with self._engines_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()
        super().dispose()

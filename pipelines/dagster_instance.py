"""The Dagster instance every CLI run records into, so the UI shows what the CLI did.

It lives under ``$TIEPULSE_HOME/dagster`` (or ``DAGSTER_HOME`` when set, as `make dev` and production set it), with
the settings in ``pipelines/dagster.yaml``: runs one at a time, the warehouse pool of one, no telemetry.

Dagster's SQLite storage opens, commits and closes a connection for every event it records (about 430 in a
refresh of the Enron warehouse after new mail, each asset event twice: in the run's own file and in the index), and
each commit and each last close (a WAL checkpoint) waits for the disk. ``durable_enough_writes`` makes a run's events
cost memory writes instead. It also builds a SQLAlchemy engine for every connection, and with it every statement is
compiled again: ``dagster_event_log.PooledSqliteEventLogStorage`` keeps one engine per file for the life of the
CLI's process. The webserver and the daemon read the same files with Dagster's own storage class.
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from tiepulse.core.runlog import process_alive
from tiepulse.core.settings import Settings

if TYPE_CHECKING:
    import dagster as dg

INSTANCE_SETTINGS = Path(str(files("tiepulse.pipelines").joinpath("dagster.yaml")))


def instance_dir(settings: Settings) -> Path:
    configured = os.environ.get("DAGSTER_HOME")
    return Path(configured) if configured else settings.home / "dagster"


def ensure_instance_dir(folder: Path) -> Path:
    """The folder, with tiepulse's instance settings in it unless someone has put their own there."""
    folder.mkdir(parents=True, exist_ok=True)
    settings_file = folder / "dagster.yaml"
    if not settings_file.exists():
        shutil.copyfile(INSTANCE_SETTINGS, settings_file)
    return folder


STORAGE_KEYS = ("storage", "run_storage", "event_log_storage", "schedule_storage")


def cli_instance(settings: Settings) -> dg.DagsterInstance:
    """The instance, with ``PooledSqliteEventLogStorage`` for its events unless its settings name a storage."""
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef

    from tiepulse.pipelines.dagster_event_log import PooledSqliteEventLogStorage

    folder = ensure_instance_dir(instance_dir(settings))
    configured = yaml.safe_load((folder / "dagster.yaml").read_text(encoding="utf-8")) or {}
    if any(key in configured for key in STORAGE_KEYS):  # PostgreSQL or storage of the user's own choosing
        return dg.DagsterInstance.from_config(str(folder))
    pooled = {
        "module": PooledSqliteEventLogStorage.__module__,
        "class": PooledSqliteEventLogStorage.__name__,
        "config": {"base_dir": str(folder / "history" / "runs")},  # where Dagster's default SQLite storage keeps them
    }
    return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(folder), overrides={"event_log_storage": pooled}))


PID_TAG, HOST_TAG = "tiepulse/pid", "tiepulse/host"
"""Tags of a CLI run: the process that runs it in process, and its machine."""


def cli_run_tags() -> dict[str, str]:
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def release_dead_runs(instance: dg.DagsterInstance) -> None:
    """Mark failed the CLI runs of this machine whose process is gone (killed, out of memory, a power cut) and free
    their pool slots. A run killed in a step keeps that step's slot of the warehouse pool (limit
    1): every later run would wait for it for ever."""
    import dagster as dg

    found = instance.get_runs(
        filters=dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED],
            tags={HOST_TAG: socket.gethostname()},
        )
    )
    for run in found:
        pid = int(run.tags.get(PID_TAG, "0"))
        if pid <= 0 or process_alive(pid):
            continue
        instance.report_run_failed(run, f"its process ({pid}) ended before the run did")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)


@contextmanager
def durable_enough_writes() -> Iterator[None]:
    """While inside, Dagster's SQLite files are written in WAL mode with ``synchronous=normal`` and kept open.

    ``normal`` is SQLite's advice for WAL files: a commit appends to the log without waiting for the disk; a power
    cut may lose the last events, never the file's consistency. One connection held open on each file (a reader,
    holding no lock between statements) keeps the per-event closes from checkpointing the log; the last close, at
    the end, checkpoints once. The warehouse (DuckDB) is not concerned.
    """
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    held: dict[str, sqlite3.Connection] = {}

    def tune(dbapi_connection: object, _record: object) -> None:
        if not isinstance(dbapi_connection, sqlite3.Connection):
            return
        dbapi_connection.execute("pragma synchronous=normal").close()
        path = next(row[2] for row in dbapi_connection.execute("pragma database_list") if row[1] == "main")
        if not path or path in held:
            return
        (mode,) = dbapi_connection.execute("pragma journal_mode").fetchone()
        if mode == "wal":
            keeper = sqlite3.connect(path, check_same_thread=False)
            keeper.execute("select 1 from sqlite_master limit 1").fetchall()  # attaches it to the log
            held[path] = keeper

    event.listen(Engine, "connect", tune)
    try:
        yield
    finally:
        event.remove(Engine, "connect", tune)
        for keeper in held.values():
            keeper.close()

"""CLI runs record into the Dagster instance under the home, so the UI shows them and checks see history."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest
import requests
import sqlalchemy as sa
from typer.testing import CliRunner

from tiepulse.cli.app import app
from tiepulse.pipelines.assets.raw import FILE_TABLES
from tiepulse.pipelines.marts_io import table_columns
from tiepulse.pipelines.models import MODELS_DIR, column_descriptions

MBOX = Path(__file__).parent / "data" / "sent.mbox"


def test_cli_runs_are_kept_in_the_homes_instance(cli_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dagster's own storage reads what the CLI's runs wrote, and those runs opened each event file once or twice
    (``PooledSqliteEventLogStorage``), not once per event."""
    home = cli_home
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    opened: list[str] = []

    def count(dbapi_connection: object, _record: object) -> None:
        if isinstance(dbapi_connection, sqlite3.Connection):
            opened.extend(row[2] for row in dbapi_connection.execute("pragma database_list") if row[1] == "main")

    sa.event.listen(sa.Engine, "connect", count)
    try:
        for args in (["import", str(MBOX)], ["refresh", "--full"]):  # --full: a refresh with nothing new starts no run
            result = CliRunner().invoke(app, args)
            assert result.exit_code == 0, result.output
    finally:
        sa.event.remove(sa.Engine, "connect", count)

    assert (home / "dagster" / "dagster.yaml").read_text().startswith("# The Dagster instance's settings")
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    runs = instance.get_runs()
    assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS] * 2
    key = dg.AssetKey(["marts", "fct_messages"])
    materialized = instance.fetch_materializations(key, limit=5).records
    assert [m.run_id for m in materialized] == [r.run_id for r in runs]

    latest_checks = instance.all_logs(runs[0].run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    row_count = next(
        e.get_dagster_event().event_specific_data
        for e in latest_checks
        if e.get_dagster_event().event_specific_data.asset_key == key  # type: ignore[union-attr]
        and e.get_dagster_event().event_specific_data.check_name == "row_count"  # type: ignore[union-attr]
    )
    rows = materialized[1].asset_materialization.metadata["rows"].value  # type: ignore[union-attr]
    assert rows == 2
    assert row_count.metadata["previous_rows"].value == rows  # type: ignore[union-attr]

    event_files = [Path(p) for p in opened if Path(p).parent == home / "dagster" / "history" / "runs"]
    events = sum(len(instance.get_records_for_run(r.run_id, limit=10_000).records) for r in runs)
    assert events > 200
    files = {p.name for p in event_files}
    # the index, each run's file and ".db", where Dagster keeps events outside a run (the landed files')
    assert files == {"index.db", ".db", *(f"{r.run_id}.db" for r in runs)}
    # per file and process: Dagster's own connections that create or check it, then the one kept
    assert max(Counter(event_files).values()) <= 2 * 8


def test_a_storage_of_the_users_choosing_is_left_to_dagster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster._core.storage.event_log import SqliteEventLogStorage

    from tiepulse.core.settings import Settings
    from tiepulse.pipelines.dagster_event_log import PooledSqliteEventLogStorage
    from tiepulse.pipelines.dagster_instance import cli_instance

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    monkeypatch.setenv("TIEPULSE_HOME", str(tmp_path / "home"))
    assert type(cli_instance(Settings()).event_log_storage) is PooledSqliteEventLogStorage
    (tmp_path / "dagster" / "dagster.yaml").write_text(f"storage:\n  sqlite:\n    base_dir: {tmp_path / 'own'}\n")
    assert type(cli_instance(Settings()).event_log_storage) is SqliteEventLogStorage


def test_materializations_carry_row_count_and_described_columns(
    cli_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = cli_home
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    result = CliRunner().invoke(app, ["import", str(MBOX)])
    assert result.exit_code == 0, result.output
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    for table in ("marts.fct_messages", "marts.mart_ties", "marts.mart_org_people"):
        (record,) = instance.fetch_materializations(dg.AssetKey(table.split(".")), limit=1).records
        metadata = record.asset_materialization.metadata  # type: ignore[union-attr]
        with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
            rows = con.execute(f"select count(*) from {table}").fetchall()[0][0]
            columns = [c[0] for c in con.execute(f"describe {table}").fetchall()]
        assert metadata["dagster/row_count"].value == rows, table
        schema = metadata["dagster/column_schema"].value
        assert [c.name for c in schema.columns] == columns, table  # type: ignore[union-attr]
        described = {c.name for c in schema.columns if c.description}  # type: ignore[union-attr]
        assert described == set(columns), set(columns) - described
    # The files the CLI landed outside any run show as materialisations of their raw assets.
    (landed,) = instance.fetch_materializations(dg.AssetKey(["raw", "mail_messages"]), limit=1).records
    metadata = landed.asset_materialization.metadata  # type: ignore[union-attr]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute("select count(*) from raw.mail_messages").fetchall()[0][0]
    assert metadata["rows_added"].value == metadata["dagster/row_count"].value == rows > 0


def test_every_modelled_table_describes_every_column_it_has(cli_home: Path) -> None:
    """Each table with a ``.yml`` (staging, intermediate, facts and marts) describes all its columns, and only them."""
    result = CliRunner().invoke(app, ["import", str(MBOX)])
    assert result.exit_code == 0, result.output
    checked = 0
    with duckdb.connect(str(cli_home / "warehouse.duckdb"), read_only=True) as con:
        for yml in sorted(MODELS_DIR.glob("*/*.yml")):
            table = f"{yml.parent.name}.{yml.stem}"
            columns = table_columns(con, table)
            if not columns:  # a mart this small import does not build
                continue
            described = {key.split(".")[0] for key in column_descriptions(table)}  # a record's fields: column.field
            assert described == {name for name, _ in columns}, table
            checked += 1
    assert checked >= 25


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _graphql(port: int, query: str) -> dict[str, Any]:
    reply = requests.post(f"http://127.0.0.1:{port}/graphql", json={"query": query}, timeout=60)
    reply.raise_for_status()
    body = reply.json()
    assert "errors" not in body, body
    return dict(body["data"])


ASSETS = """{ assetNodes { assetKey { path } description
  assetMaterializations(limit: 1) { runId }
  assetChecksOrError { ... on AssetChecks { checks { name executionForLatestMaterialization { status } } } } } }"""


@pytest.mark.slow
def test_the_dagster_ui_shows_the_cli_runs(cli_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The webserver, on 127.0.0.1 over the home's instance, serves the CLI's materializations and checks."""
    home = cli_home
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    result = CliRunner().invoke(app, ["import", str(MBOX)])
    assert result.exit_code == 0, result.output
    run_id = dg.DagsterInstance.from_config(str(home / "dagster")).get_runs()[0].run_id

    port = _free_port()
    webserver = Path(sys.executable).with_name("dagster-webserver")
    command = [str(webserver), "-h", "127.0.0.1", "-p", str(port), "-m", "tiepulse.pipelines.definitions"]
    server = subprocess.Popen(
        command,
        env={**os.environ, "DAGSTER_HOME": str(home / "dagster")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 300  # a bound for a loaded machine, not a speed assertion
        while True:
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else "webserver exited"
            try:
                if requests.get(f"http://127.0.0.1:{port}/server_info", timeout=5).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the webserver did not come up"
            time.sleep(0.5)
        nodes = _graphql(port, ASSETS)["assetNodes"]
    finally:
        server.terminate()
        server.wait(timeout=60)

    by_key = {".".join(n["assetKey"]["path"]): n for n in nodes}
    assert all(n["description"] for n in nodes), [k for k, n in by_key.items() if not n["description"]]
    built = {k for k, n in by_key.items() if n["assetMaterializations"]}
    assert {"marts.fct_messages", "marts.mart_ties", "marts.mart_alerts"} <= built
    latest_run = {k: n["assetMaterializations"][0]["runId"] for k, n in by_key.items() if n["assetMaterializations"]}
    landed = {f"raw.{name}" for name in FILE_TABLES}  # the files the CLI loaded itself, before the run
    assert "raw.mail_messages" in latest_run
    assert {r for k, r in latest_run.items() if k not in landed} == {run_id}
    checks = by_key["marts.fct_messages"]["assetChecksOrError"]["checks"]
    assert {c["name"]: c["executionForLatestMaterialization"]["status"] for c in checks} == {
        "quality": "SUCCEEDED",
        "row_count": "SUCCEEDED",
    }


def test_instance_writes_skip_the_disk_wait_only_inside_a_cli_run(tmp_path: Path) -> None:
    """Inside ``durable_enough_writes`` a SQLite file in WAL mode commits with ``synchronous=normal`` and is held
    open (so closing a connection does not checkpoint the log); outside it, SQLAlchemy's defaults are untouched."""
    import sqlalchemy as sa

    from tiepulse.pipelines.dagster_instance import durable_enough_writes

    path = tmp_path / "events.db"
    engine = sa.create_engine(f"sqlite:///{path}", poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(sa.text("pragma journal_mode=wal"))
        conn.execute(sa.text("create table events (id integer)"))

    def synchronous() -> int:
        with engine.begin() as conn:
            conn.execute(sa.text("insert into events values (1)"))
            return int(conn.execute(sa.text("pragma synchronous")).scalar_one())

    assert synchronous() == 2  # full: every commit waits for the disk
    with durable_enough_writes():
        assert synchronous() == 1  # normal
        assert synchronous() == 1
        # a connection of the run's is still open on the file: the log is not checkpointed into it on close
        assert (tmp_path / "events.db-wal").exists()
    assert synchronous() == 2
    assert not (tmp_path / "events.db-wal").exists()  # the last close checkpointed it, once
    with engine.begin() as conn:
        assert conn.execute(sa.text("select count(*) from events")).scalar_one() == 4

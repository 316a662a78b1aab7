"""Warehouse migrations, page commits, and settings errors."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from tiepulse.connectors.base import Page, Reject
from tiepulse.connectors.raw_schemas import to_table
from tiepulse.core.runlog import record_run
from tiepulse.core.settings import ConfigError, Settings, load_config
from tiepulse.core.warehouse import WarehouseError, connect, latest_version, migrations
from tiepulse.pipelines.loader import commit_page, read_cursor


def test_new_warehouse_has_layers_and_version(tmp_path: Path) -> None:
    con = connect(tmp_path / "w.duckdb")
    schemas = {r[0] for r in con.execute("select schema_name from duckdb_schemas()").fetchall()}
    assert {"raw", "staging", "intermediate", "marts", "ops"} <= schemas
    assert con.execute("select max(version) from ops.schema_version").fetchone() == (latest_version(),)


def test_older_warehouse_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute(
        "create schema ops; create table ops.schema_version (version integer primary key, name varchar, "
        "applied_at timestamptz default now())"
    ).fetchall()
    con.close()
    con = connect(path)
    # every migration applied (numbers are given out per task, so there can be gaps until all branches merge)
    assert con.execute("select count(*), max(version) from ops.schema_version").fetchone() == (
        len(migrations()),
        latest_version(),
    )
    assert con.execute("select count(*) from raw.mail_messages").fetchone() == (0,)


def test_tables_under_their_old_names_are_dropped_on_upgrade(tmp_path: Path) -> None:
    """A warehouse refreshed by a version before the layer names (006) keeps no stale copy of a renamed model."""
    path = tmp_path / "w.duckdb"
    connect(path).close()
    con = duckdb.connect(str(path))
    con.execute("delete from ops.schema_version where version >= 6").fetchall()
    con.execute("drop schema intermediate").fetchall()
    old = ["staging.int_mail_sightings", "staging.stg_messages", "staging.dim_person", "marts.int_interactions"]
    for table in old:
        con.execute(f"create table {table} as select 1 as x").fetchall()
    con.close()
    con = connect(path)
    tables = {f"{s}.{t}" for s, t in con.execute("select schema_name, table_name from duckdb_tables()").fetchall()}
    assert not tables & set(old)
    assert con.execute("select count(*) from duckdb_schemas() where schema_name = 'intermediate'").fetchone() == (1,)


def test_newer_warehouse_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    con = connect(path)
    con.execute("insert into ops.schema_version (version, name) values (999, 'future')").fetchall()
    con.close()
    with pytest.raises(WarehouseError, match="version 999, newer than this tiepulse understands"):
        connect(path)
    with pytest.raises(WarehouseError, match="version 999, newer than this tiepulse understands"):
        connect(path, read_only=True)


def test_a_warehouse_held_by_another_process_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    connect(path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, sys, time; c = duckdb.connect({str(path)!r}); print(1, flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "1"
        with pytest.raises(WarehouseError, match=rf"held by another process, PID {holder.pid} \(.*python"):
            connect(path, wait=0)
        with pytest.raises(WarehouseError, match=rf"PID {holder.pid} .* is writing it.*try again when its run"):
            connect(path, read_only=True)
    finally:
        holder.communicate("")


def test_runs_left_running_by_a_killed_process_are_marked_interrupted(tmp_path: Path) -> None:
    con = connect(tmp_path / "w.duckdb")
    con.execute(
        "insert into ops.runs (run_id, kind, started_at, status) values ('dead', 'import', now(), 'running')"
    ).fetchall()
    with record_run(con, "import") as outer, record_run(con, "sync"):
        outer["files"] = 1
        running = con.execute("select run_id, status from ops.runs where status = 'running'").fetchall()
        assert len(running) == 2 and "dead" not in {r[0] for r in running}  # the outer run is not interrupted
    statuses = dict(con.execute("select kind, status from ops.runs where run_id <> 'dead'").fetchall())
    assert statuses == {"import": "success", "sync": "success"}
    assert con.execute("select status from ops.runs where run_id = 'dead'").fetchall() == [("interrupted",)]


def test_read_only_open_of_missing_warehouse_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(WarehouseError, match="tiepulse import"):
        connect(tmp_path / "none.duckdb", read_only=True)


def _page(n: int, cursor: str) -> Page:
    rows = [
        {
            "row_key": f"k{i}",
            "owner": "a@x.com",
            "occurred_at": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
            "person_address": "b@x.com",
            "channel": "call",
        }
        for i in range(n)
    ]
    return Page(
        rows={"raw.manual_interactions": to_table("raw.manual_interactions", rows)},
        rejects=[Reject("csv_row", "manual_log", "f.csv", "3", "bad_date", "x", "line")],
        cursor=cursor,
    )


def test_commit_page_is_idempotent_and_keeps_cursor(warehouse: duckdb.DuckDBPyConnection) -> None:
    first = commit_page(warehouse, _page(3, "3"), source="s", account="a", stream="f")
    again = commit_page(warehouse, _page(3, "3"), source="s", account="a", stream="f")
    assert (first.inserted, first.quarantined) == ({"raw.manual_interactions": 3}, 1)
    assert (again.inserted, again.quarantined) == ({"raw.manual_interactions": 0}, 0)
    assert read_cursor(warehouse, source="s", account="a", stream="f") == ("3", "running")


def test_a_failing_page_leaves_no_rows_and_no_cursor(warehouse: duckdb.DuckDBPyConnection) -> None:
    page = _page(2, "2")
    # a second table whose rows break a NOT NULL constraint: the whole page must roll back
    page.rows["raw.contacts"] = pa.Table.from_pylist([{"owner": None, "email": "x@y.com"}])
    with pytest.raises(duckdb.ConstraintException):
        commit_page(warehouse, page, source="s", account="a", stream="f")
    assert warehouse.execute("select count(*) from raw.manual_interactions").fetchone() == (0,)
    assert warehouse.execute("select count(*) from ops.quarantine").fetchone() == (0,)
    assert read_cursor(warehouse, source="s", account="a", stream="f") == (None, "new")


def test_bad_config_names_file_field_and_expectation(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("egos:\n  - email: ana@x.com\n    working_hours: nine-to-five\nimports:\n  workers: many\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert str(path) in message
    assert "egos.0.working_hours" in message and "imports.workers" in message
    assert "valid integer" in message or "tuple" in message


@pytest.mark.parametrize(
    ("yaml_text", "expected"),
    [
        ("egos:\n  - email: ana@acme\n", "egos.0.email: 'ana@acme' is not a valid email address"),
        ("egos:\n  - email: a@x.com\n    addresses: [nope]\n", "egos.0.addresses: 'nope' is not a valid"),
        ("egos:\n  - email: a@x.com\n    timezone: Mars/Olympus\n", "egos.0.timezone: expected an IANA time zone"),
        ("egos:\n  - email: a@x.com\n    working_hours: [25, 3]\n", "0 <= start < end <= 24, got [25, 3]"),
        ("egos:\n  - email: a@x.com\n    working_days: [7]\n", "weekday numbers 0 (Monday) to 6"),
        ("directory_file: people.csv\n", "directory_file: no such file"),
        (
            "thresholds:\n  half_life_dayz: 30\n",
            "thresholds.half_life_dayz: unknown key (did you mean 'half_life_days'?)",
        ),
        ("thresholds:\n  half_life_days: -5\n", "thresholds.half_life_days: Input should be greater than or equal"),
        ("aliases:\n  bo@x.com: [not-an-address]\n", "aliases: 'not-an-address' is not a valid email address"),
    ],
)
def test_config_values_are_checked_when_loaded(tmp_path: Path, yaml_text: str, expected: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(str(path)) and expected in str(info.value)


def test_unknown_config_key_and_bad_yaml(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("egoz: []\n")
    with pytest.raises(ConfigError, match="egoz: Extra inputs are not permitted"):
        load_config(path)
    path.write_text("egos: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_settings_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "c.yaml").write_text("directory_file: dir.csv\nimport_paths: [mail]\n")
    (tmp_path / "dir.csv").write_text("email,team\n")
    monkeypatch.setenv("TIEPULSE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TIEPULSE_CONFIG", str(tmp_path / "c.yaml"))
    monkeypatch.setenv("TIEPULSE_AS_OF", "2001-12-01")
    settings = Settings()
    assert settings.warehouse_path == tmp_path / "home" / "warehouse.duckdb"
    assert settings.as_of == dt.date(2001, 12, 1)
    assert settings.config.directory_file == tmp_path / "dir.csv"
    assert settings.config.import_paths == [tmp_path / "mail"]
    assert settings.hmac_key is None


def test_every_connection_is_memory_bounded_and_spills_in_the_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "w.duckdb"
    settings = "select current_setting('memory_limit'), current_setting('temp_directory'), current_setting('threads')"
    con = connect(path)
    limit, temp, threads = con.execute(settings).fetchone() or ()
    assert limit != duckdb.connect().execute("select current_setting('memory_limit')").fetchone()[0]  # not DuckDB's
    assert Path(temp) == tmp_path / "w.duckdb.tmp"
    assert threads >= 1
    con.close()
    monkeypatch.setenv("TIEPULSE_DUCKDB_MEMORY_LIMIT", "300MB")
    for read_only in (False, True):
        con = connect(path, read_only=read_only)
        assert con.execute(settings).fetchone()[0] == "286.1 MiB"  # 300 MB as DuckDB writes it
        con.close()


def test_a_memory_limit_that_is_not_a_size_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("warehouse:\n  memory_limit: lots\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="memory_limit"):
        load_config(config)
